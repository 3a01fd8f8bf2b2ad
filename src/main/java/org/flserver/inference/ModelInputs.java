package org.flserver.inference;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.flserver.tensor.DType;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;

/**
 * Turns what a client sends as {@code model_input} into a {@link Tensor} (api.md §10), without
 * executing anything: nested JSON lists of numbers (float32), a {@code torch.save}d tensor (read
 * by our own non-executing reader), an image (PNG, JPEG, GIF, BMP: grayscale → [H, W], colour →
 * [H, W, 3], with alpha [H, W, 4], uint8 — what {@code torch.as_tensor(numpy.array(PIL image))}
 * gives), or base64 of a tensor file or an image. Anything else is refused with the reference's
 * message.
 */
public final class ModelInputs {

    /** The reference's answer (typo included) for input that is no tensor. */
    public static final String NOT_A_TENSOR = "Model input could not be casted or interpreted as a PyTorch tensor"
            + " object and no preprecessing is defined.";

    /** At most this many elements in one input (a JSON list or a file), to bound memory per request. */
    static final long MAX_ELEMENTS = 1L << 24;

    /**
     * At most this many bytes of elements in one input: as many as {@link #MAX_ELEMENTS} float32
     * numbers take. Elements alone do not bound a tensor file: a view may repeat one stored element
     * (stride 0), so a file of a few hundred bytes can stand for 2^24 complex128 numbers, 256 MiB.
     */
    static final long MAX_BYTES = MAX_ELEMENTS * 4;

    /** The dtypes the inference backend takes as input; a file of another dtype is refused before it is copied. */
    static final Set<DType> INPUT_DTYPES = Collections.unmodifiableSet(EnumSet.of(DType.FLOAT32, DType.FLOAT64,
            DType.FLOAT16, DType.INT64, DType.INT32, DType.INT8, DType.UINT8, DType.BOOL));

    private ModelInputs() {
    }

    /** Thrown for input that cannot be read; the message is the client's 400 detail. */
    public static final class BadInput extends Exception {
        private static final long serialVersionUID = 1L;

        public BadInput(String message) {
            super(message);
        }
    }

    /** A JSON {@code model_input}: nested lists of numbers, or a string holding base64 of a file. */
    public static Tensor fromJson(JsonValue value) throws BadInput {
        if (value instanceof JsonString s) {
            return fromBase64(s.getString());
        }
        if (!(value instanceof JsonArray)) {
            throw new BadInput(NOT_A_TENSOR);
        }
        List<Long> shape = new ArrayList<>();
        JsonValue v = value;
        while (v instanceof JsonArray a) {
            shape.add((long) a.size());
            if (a.isEmpty()) {
                break;
            }
            v = a.get(0);
        }
        long count = 1;
        for (long d : shape) {
            count *= d;
            if (count > MAX_ELEMENTS) {
                throw new BadInput("The model input is too large: at most " + MAX_ELEMENTS + " numbers.");
            }
        }
        float[] values = new float[(int) count];
        int[] next = {0};
        fill(value, 0, shape, values, next);
        long[] dims = shape.stream().mapToLong(Long::longValue).toArray();
        return Tensor.ofFloats(dims, values);
    }

    private static void fill(JsonValue v, int depth, List<Long> shape, float[] out, int[] next) throws BadInput {
        if (depth == shape.size()) {
            if (!(v instanceof JsonNumber n)) {
                throw new BadInput("The model input must be nested lists of numbers of a rectangular shape.");
            }
            out[next[0]++] = (float) n.doubleValue();
            return;
        }
        if (!(v instanceof JsonArray a) || a.size() != shape.get(depth)) {
            throw new BadInput("The model input must be nested lists of numbers of a rectangular shape.");
        }
        for (JsonValue item : a) {
            fill(item, depth + 1, shape, out, next);
        }
    }

    /** The bytes of an uploaded file or form value: a tensor file, an image, or base64 of either. */
    public static Tensor fromBytes(byte[] bytes) throws BadInput {
        Tensor t = decode(bytes);
        if (t != null) {
            return t;
        }
        String text = new String(bytes, java.nio.charset.StandardCharsets.US_ASCII).strip();
        return fromBase64(text);
    }

    private static Tensor fromBase64(String text) throws BadInput {
        byte[] decoded;
        try {
            decoded = Base64.getMimeDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new BadInput(NOT_A_TENSOR);
        }
        Tensor t = decoded.length == 0 ? null : decode(decoded);
        if (t == null) {
            throw new BadInput(NOT_A_TENSOR);
        }
        return t;
    }

    /** A tensor file or an image, else null. */
    private static Tensor decode(byte[] bytes) throws BadInput {
        if (bytes.length >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4) {
            return tensorFile(bytes);
        }
        // the header's width and height are checked before any pixel is decoded
        BufferedImage image = BoundedImages.read(bytes, MAX_ELEMENTS);
        return image == null ? null : image(image);
    }

    /** A {@code torch.save}d tensor, read symbolically (never unpickled by Python, never executed). */
    private static Tensor tensorFile(byte[] bytes) throws BadInput {
        Path temp = null;
        try {
            temp = Files.createTempFile("fl-input", ".pt");
            Files.write(temp, bytes);
            WeightFile file = WeightFiles.open(temp);
            if (file.kind() != FormatKind.TENSOR || file.tensors().size() != 1) {
                throw new BadInput("A model input file must be torch.save of one tensor, not a "
                        + file.kind().label() + ".");
            }
            TensorInfo t = file.tensors().get(0);
            if (!INPUT_DTYPES.contains(t.dtype())) {
                throw new BadInput("A model input file must hold a tensor of dtype float32, float64, float16, int64,"
                        + " int32, int8, uint8 or bool, not " + t.dtype().torchName() + ".");
            }
            if (t.numel() > MAX_ELEMENTS) {
                throw new BadInput("The model input is too large: at most " + MAX_ELEMENTS + " numbers.");
            }
            if (t.numel() * t.dtype().size() > MAX_BYTES) {
                throw new BadInput("The model input is too large: at most " + MAX_BYTES + " bytes of numbers ("
                        + t.numel() + " of " + t.dtype().torchName() + " take " + t.numel() * t.dtype().size() + ").");
            }
            StorageInfo s = file.storage(t.storageKey()).orElseThrow();
            return contiguous(temp, t, s);
        } catch (WeightFileException e) {
            throw new BadInput("The model input file cannot be read: " + e.getMessage());
        } catch (IOException e) {
            throw new BadInput(NOT_A_TENSOR);
        } finally {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // a stray temp file is harmless
                }
            }
        }
    }

    /** Copies the view's elements in row-major order (the reader checked they lie inside the storage). */
    private static Tensor contiguous(Path file, TensorInfo t, StorageInfo s) throws IOException, BadInput {
        if (s.byteOrder() != ByteOrder.LITTLE_ENDIAN && t.dtype().size() > 1) {
            throw new BadInput("Big-endian tensor files are not supported as model input.");
        }
        int size = t.dtype().size();
        ByteBuffer storage = ByteBuffer.allocate(Math.toIntExact(s.length())).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (storage.hasRemaining()) {
                if (ch.read(storage, s.offset() + storage.position()) < 0) {
                    throw new IOException("short file");
                }
            }
        }
        long[] shape = t.shape().stream().mapToLong(Long::longValue).toArray();
        long[] stride = t.stride().stream().mapToLong(Long::longValue).toArray();
        int n = Math.toIntExact(t.numel());
        ByteBuffer out = ByteBuffer.allocate(n * size).order(ByteOrder.LITTLE_ENDIAN);
        long[] index = new long[shape.length];
        for (int e = 0; e < n; e++) {
            long offset = t.storageOffset();
            for (int d = 0; d < shape.length; d++) {
                offset += index[d] * stride[d];
            }
            out.put(storage.array(), (int) (offset * size), size);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        out.flip();
        return new Tensor(t.dtype(), shape, out);
    }

    private static Tensor image(BufferedImage image) throws BadInput {
        int w = image.getWidth();
        int h = image.getHeight();
        if ((long) w * h * BoundedImages.MAX_CHANNELS > MAX_ELEMENTS) {
            // the header promised less (BoundedImages checked it); the decoded image decides
            throw new BadInput("The model input image is too large.");
        }
        Raster raster = image.getRaster();
        int bands = raster.getNumBands();
        boolean gray = bands == 1 && image.getColorModel().getNumComponents() == 1;
        int channels = gray ? 1 : image.getColorModel().hasAlpha() ? 4 : 3;
        ByteBuffer out = ByteBuffer.allocate(w * h * channels);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (gray) {
                    out.put((byte) raster.getSample(x, y, 0));
                } else {
                    int argb = image.getRGB(x, y);
                    out.put((byte) (argb >> 16)).put((byte) (argb >> 8)).put((byte) argb);
                    if (channels == 4) {
                        out.put((byte) (argb >>> 24));
                    }
                }
            }
        }
        out.flip();
        long[] shape = gray ? new long[]{h, w} : new long[]{h, w, channels};
        return new Tensor(DType.UINT8, shape, out);
    }
}
