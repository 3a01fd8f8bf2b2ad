package org.flserver.tensor.safetensors;

import org.flserver.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a safetensors file the way the reference writer does: compact JSON header with
 * {@code __metadata__} first, tensors ordered by descending dtype rank then by name, the header padded
 * with spaces to a multiple of 8, then the tensors' bytes back to back.
 *
 * <p>Used for values the server computes itself (e.g. SWAG moments); the FedAvg output of a
 * safetensors round instead keeps the template's header byte for byte.
 */
public final class SafetensorsWriter {

    /** One tensor to write: little-endian, row-major bytes of exactly numel × element size. */
    public record Tensor(String name, DType dtype, List<Long> shape, ByteBuffer data) {
        public Tensor {
            Objects.requireNonNull(name);
            Objects.requireNonNull(dtype);
            shape = List.copyOf(shape);
            long numel = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in " + name);
                }
                numel = Math.multiplyExact(numel, d);
            }
            if (data.remaining() != Math.multiplyExact(numel, (long) dtype.size())) {
                throw new IllegalArgumentException(name + ": " + data.remaining() + " bytes for " + shape);
            }
            if (name.equals(SafetensorsReader.METADATA)) {
                throw new IllegalArgumentException("reserved tensor name " + name);
            }
        }
    }

    /** The reference implementation's dtype order (its enum order); higher ranks are written first. */
    private static final List<DType> RANK = List.of(DType.BOOL, DType.UINT8, DType.INT8, DType.INT16, DType.FLOAT16,
            DType.BFLOAT16, DType.INT32, DType.FLOAT32, DType.FLOAT64, DType.INT64, DType.COMPLEX64, DType.COMPLEX128);

    private SafetensorsWriter() {
    }

    /** Writes {@code tensors} to {@code out} (created or truncated). */
    public static void write(Path out, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        List<Tensor> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingInt((Tensor t) -> -RANK.indexOf(t.dtype())).thenComparing(Tensor::name));
        if (new HashSet<>(sorted.stream().map(Tensor::name).toList()).size() != sorted.size()) {
            throw new IllegalArgumentException("duplicate tensor names");
        }
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append(quote(SafetensorsReader.METADATA)).append(":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                h.append(first ? "" : ",").append(quote(e.getKey())).append(':').append(quote(e.getValue()));
                first = false;
            }
            h.append('}');
        }
        long at = 0;
        for (Tensor t : sorted) {
            h.append(h.length() > 1 ? "," : "").append(quote(t.name())).append(":{\"dtype\":\"")
                    .append(t.dtype().safetensorsCode()).append("\",\"shape\":[");
            for (int i = 0; i < t.shape().size(); i++) {
                h.append(i > 0 ? "," : "").append(t.shape().get(i));
            }
            long end = at + t.data().remaining();
            h.append("],\"data_offsets\":[").append(at).append(',').append(end).append("]}");
            at = end;
        }
        h.append('}');
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeAll(ch, head);
            for (Tensor t : sorted) {
                writeAll(ch, t.data().duplicate());
            }
        }
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
