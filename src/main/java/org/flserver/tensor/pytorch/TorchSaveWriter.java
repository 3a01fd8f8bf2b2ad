package org.flserver.tensor.pytorch;

import static org.flserver.tensor.pytorch.PickleOpcodes.*;

import org.flserver.tensor.DType;
import org.flserver.tensor.DenseTensor;
import org.flserver.tensor.pytorch.TorchZipWriter.Record;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Writes a {@code torch.save} archive of a nested map of tensors, e.g. the binary inference result
 * {@code {"inference": tensor, "uncertainty": {"variance": tensor, "std": tensor}}}, so that
 * {@code torch.load(f)} and {@code torch.load(f, weights_only=True)} return the same nested dicts.
 *
 * <p>The archive has torch's layout (pytorch-formats.md §a): records {@code <name>/data.pkl},
 * {@code <name>/byteorder} ({@code little}, as torch 2.1+ writes it; 1.13 ignores it),
 * {@code <name>/data/0 …} (one per tensor, numbered in pickle order) and {@code <name>/version}
 * ({@code 3\n}), in a ZIP container as torch writes it ({@link TorchZipWriter}: every record STORED
 * with a data descriptor, its payload 64-byte aligned, a ZIP64 end record). The pickle (protocol 2)
 * uses only what torch's {@code weights_only} unpickler accepts: plain dicts ({@code EMPTY_DICT}),
 * {@code torch._utils._rebuild_tensor_v2} with an empty {@code collections.OrderedDict} of backward
 * hooks, and persistent ids {@code ('storage', torch.<X>Storage, key, 'cpu', numel)}. Dict order is
 * the map's iteration order.
 *
 * <p>Tensor bytes are not copied: {@link #prepare} lays out the archive (the pickle is built in
 * memory, it is small), and {@link Archive#writeTo} streams each tensor's buffer straight to the
 * output, computing its CRC-32 on the way and writing it in the data descriptor after the payload.
 * Heap buffers are written from their array; direct buffers pass through one 64 KiB chunk.
 * {@link Archive#size()} is known before writing, for a {@code Content-Length}. Values may be any
 * {@link DenseTensor} (a caller's own tensor record can implement it) or {@link TensorData}. One
 * tensor is at most one {@code ByteBuffer} (2 GiB); past 4 GiB of archive the central directory uses
 * ZIP64 fields the way torch does (sizes and offset in one ZIP64 extra), which torch's reader needs.
 * A prepared {@link Archive} is immutable and may be written by several threads.
 *
 * <p>Typical use in a JAX-RS resource: {@code Archive a = TorchSaveWriter.prepare("archive", result);}
 * then a {@code StreamingOutput} {@code a::writeTo} with {@code Content-Length: a.size()}.
 */
public final class TorchSaveWriter {

    /** The folder name torch uses when it saves to a stream. */
    public static final String DEFAULT_ARCHIVE_NAME = "archive";

    /** Nesting limit for maps of maps (the inference result uses two levels). */
    public static final int MAX_DEPTH = 32;

    private static final Pattern ARCHIVE_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,100}");

    /**
     * One tensor: its elements, row-major (C-contiguous) and little-endian, are the {@code remaining()}
     * bytes of {@code data} (the buffer's own {@link ByteOrder} setting plays no part). The buffer is
     * not copied; its content must not change until the archive is written. A 0-dim tensor has an
     * empty {@code shape} and one element; a tensor with a 0 dimension has no bytes.
     */
    public record TensorData(DType dtype, long[] shape, ByteBuffer data) implements DenseTensor {
        public TensorData {
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            long numel = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                }
                numel = Math.multiplyExact(numel, d);
            }
            if (data.remaining() != Math.multiplyExact(numel, (long) dtype.size())) {
                throw new IllegalArgumentException(data.remaining() + " bytes for " + Arrays.toString(shape)
                        + " of " + dtype.torchName());
            }
            data = data.slice();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** A view of the bytes with its own position, so that reading it leaves this record unchanged. */
        @Override
        public ByteBuffer data() {
            return data.duplicate();
        }

        /** Number of elements (1 for a 0-dim tensor). */
        public long numel() {
            return data.remaining() / dtype.size();
        }
    }

    private TorchSaveWriter() {
    }

    /**
     * Writes {@code root} as a {@code torch.save} archive to {@code out} (not closed, flushed).
     *
     * @param archiveName the archive's top folder, {@code [A-Za-z0-9_.-]{1,100}} (torch takes the
     *                    file name without extension when saving to a path, {@code archive} for a stream)
     * @param root        string keys to tensors ({@link DenseTensor}, e.g. {@link TensorData}) or to
     *                    maps of the same kind (nested up to {@link #MAX_DEPTH})
     * @throws IllegalArgumentException for a bad name, a null or non-string key, or a value that is
     *                                  neither a tensor nor a map
     */
    public static void write(OutputStream out, String archiveName, Map<String, ?> root) throws IOException {
        prepare(archiveName, root).writeTo(out);
    }

    /** {@link #write(OutputStream, String, Map)} with the folder name {@value #DEFAULT_ARCHIVE_NAME}. */
    public static void write(OutputStream out, Map<String, ?> root) throws IOException {
        write(out, DEFAULT_ARCHIVE_NAME, root);
    }

    /** Lays the archive out without writing it: the caller learns its size, then streams it. */
    public static Archive prepare(String archiveName, Map<String, ?> root) {
        return prepare(archiveName, root, TorchZipWriter.U32);
    }

    /**
     * As {@link #prepare(String, Map)}, with ZIP64 fields used for every offset at or past
     * {@code zip64From} (normally 2³²−1), so tests reach the ZIP64 layout with a small file.
     */
    static Archive prepare(String archiveName, Map<String, ?> root, long zip64From) {
        Objects.requireNonNull(root, "root");
        if (archiveName == null || !ARCHIVE_NAME.matcher(archiveName).matches() || archiveName.equals(".")
                || archiveName.equals("..")) {
            throw new IllegalArgumentException("archive name must match " + ARCHIVE_NAME.pattern()
                    + " and not be . or ..: " + archiveName);
        }
        Pickler p = new Pickler();
        p.dict(root, 0);
        List<Record> records = new ArrayList<>();
        records.add(Record.bytes(archiveName + "/data.pkl", p.finish()));
        records.add(Record.bytes(archiveName + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < p.tensors.size(); i++) {
            records.add(Record.buffer(archiveName + "/data/" + i, p.tensors.get(i).data()));
        }
        records.add(Record.bytes(archiveName + "/version", "3\n".getBytes(StandardCharsets.US_ASCII)));
        return new Archive(new TorchZipWriter(records, zip64From));
    }

    /**
     * A laid-out archive; {@link #writeTo} may be called more than once. The ZIP container is
     * {@link TorchZipWriter}'s; this is the public face of it.
     */
    public static final class Archive {
        private final TorchZipWriter zip;

        private Archive(TorchZipWriter zip) {
            this.zip = zip;
        }

        /** Exact number of bytes {@link #writeTo} writes. */
        public long size() {
            return zip.size();
        }

        /** Streams the archive to {@code out}; flushes, does not close it. */
        public void writeTo(OutputStream out) throws IOException {
            zip.writeTo(out);
        }
    }

    /** Little-endian scratch for the pickle's fixed-size integers. */
    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Protocol-2 pickle of nested dicts of tensors, in the opcodes Python's pickler uses for the same
     * object, memoising the repeated globals and strings as it does.
     */
    private static final class Pickler {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final Map<String, Integer> memo = new HashMap<>();
        final List<TensorData> tensors = new ArrayList<>();

        Pickler() {
            out.write(PROTO);
            out.write(2);
        }

        byte[] finish() {
            out.write(STOP);
            return out.toByteArray();
        }

        void dict(Map<?, ?> map, int depth) {
            if (depth >= MAX_DEPTH) {
                throw new IllegalArgumentException("maps nested deeper than " + MAX_DEPTH);
            }
            out.write(EMPTY_DICT);
            if (map.isEmpty()) {
                return;
            }
            out.write(MARK);
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!(e.getKey() instanceof String key)) {
                    throw new IllegalArgumentException("dict keys must be strings, not " + e.getKey());
                }
                unicode(key);
                Object v = e.getValue();
                if (v instanceof DenseTensor t) {
                    tensor(t instanceof TensorData d ? d : new TensorData(t.dtype(), t.shape(), t.data()));
                } else if (v instanceof Map<?, ?> m) {
                    dict(m, depth + 1);
                } else {
                    throw new IllegalArgumentException("value of '" + key + "' is neither a tensor nor a map: "
                            + (v == null ? "null" : v.getClass().getName()));
                }
            }
            out.write(SETITEMS);
        }

        /** {@code _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}. */
        private void tensor(TensorData t) {
            String key = Integer.toString(tensors.size());
            tensors.add(t);
            global("torch._utils", "_rebuild_tensor_v2");
            out.write(MARK);
            out.write(MARK);
            memoString("storage");
            global("torch", t.dtype().storageClass());
            unicode(key);
            memoString("cpu");
            integer(t.numel());
            out.write(TUPLE);
            out.write(BINPERSID);
            integer(0);
            long[] shape = t.shape();
            long[] stride = new long[shape.length];
            long s = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                stride[i] = s;
                s *= Math.max(shape[i], 1);
            }
            tuple(shape);
            tuple(stride);
            out.write(NEWFALSE);
            global("collections", "OrderedDict");
            out.write(EMPTY_TUPLE);
            out.write(REDUCE);
            out.write(TUPLE);
            out.write(REDUCE);
        }

        private void tuple(long[] values) {
            if (values.length > 3) {
                out.write(MARK);
            } else if (values.length == 0) {
                out.write(EMPTY_TUPLE);
                return;
            }
            for (long v : values) {
                integer(v);
            }
            out.write(values.length > 3 ? TUPLE : TUPLE1 - 1 + values.length);
        }

        private void integer(long v) {
            if (v >= 0 && v < 256) {
                out.write(BININT1);
                out.write((int) v);
            } else if (v >= 0 && v < 65536) {
                out.write(BININT2);
                out.write((int) v & 0xFF);
                out.write((int) (v >>> 8));
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                out.write(BININT);
                out.writeBytes(le(4).putInt((int) v).array());
            } else {
                // LONG1: minimal little-endian two's complement, as Python's encode_long
                byte[] b = le(8).putLong(v).array();
                int n = 8;
                while (n > 1 && (b[n - 1] == 0 && b[n - 2] >= 0 || b[n - 1] == -1 && b[n - 2] < 0)) {
                    n--;
                }
                out.write(LONG1);
                out.write(n);
                out.write(b, 0, n);
            }
        }

        /** GLOBAL once, then BINGET of its memo slot. */
        private void global(String module, String name) {
            String id = module + "\n" + name + "\n";
            if (!get(id)) {
                out.write(GLOBAL);
                out.writeBytes(id.getBytes(StandardCharsets.US_ASCII));
                put(id);
            }
        }

        private void memoString(String s) {
            if (!get("'" + s)) {
                unicode(s);
                put("'" + s);
            }
        }

        private boolean get(String id) {
            Integer slot = memo.get(id);
            if (slot == null) {
                return false;
            }
            out.write(BINGET);
            out.write(slot);
            return true;
        }

        /** BINPUT; the memo holds at most the two strings and the few globals, far below 256 slots. */
        private void put(String id) {
            int slot = memo.size();
            if (slot > 255) {
                throw new IllegalStateException("memo overflow");
            }
            memo.put(id, slot);
            out.write(BINPUT);
            out.write(slot);
        }

        /** BINUNICODE; a string with unpaired surrogates is refused rather than altered. */
        private void unicode(String s) {
            byte[] b;
            try {
                ByteBuffer enc = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(s));
                b = new byte[enc.remaining()];
                enc.get(b);
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException("key is not valid Unicode (unpaired surrogate)");
            }
            out.write(BINUNICODE);
            out.writeBytes(le(4).putInt(b.length).array());
            out.writeBytes(b);
        }
    }
}
