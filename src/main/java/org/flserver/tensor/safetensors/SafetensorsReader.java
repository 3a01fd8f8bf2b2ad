package org.flserver.tensor.safetensors;

import org.flserver.tensor.DType;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and validates a safetensors file's header the way the reference implementation does: header
 * length bounded by 100 MB and by the file, a JSON object, known dtypes, shapes whose element count
 * matches each byte range, and byte ranges that tile the data area exactly with no gap or overlap.
 *
 * <p>Each tensor is reported as its own storage (key = tensor name) because safetensors tensors never
 * share bytes; the aggregation therefore treats both formats the same way.
 */
public final class SafetensorsReader {

    /** The reference reader's cap on the header. */
    public static final long MAX_HEADER = 100_000_000;
    static final String METADATA = "__metadata__";

    private SafetensorsReader() {
    }

    public static WeightFile read(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new WeightFileException("safetensors file shorter than its 8-byte header length");
            }
            long n = readFully(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            if (n < 2 || n > MAX_HEADER || n > size - 8) {
                throw new WeightFileException("safetensors header length " + Long.toUnsignedString(n)
                        + " is invalid for a file of " + size + " bytes");
            }
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(readFully(ch, 8, (int) n)).toString();
            } catch (CharacterCodingException e) {
                throw new WeightFileException("safetensors header is not valid UTF-8");
            }
            if (!header.startsWith("{")) {
                throw new WeightFileException("safetensors header does not start with '{'");
            }
            return parse(path, size, n, header);
        }
    }

    private record Range(String name, long begin, long end) {
    }

    private static WeightFile parse(Path path, long size, long n, String header) throws WeightFileException {
        Object root = Json.parse(header);
        if (!(root instanceof Map<?, ?> map)) {
            throw new WeightFileException("safetensors header is not a JSON object");
        }
        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        List<StorageInfo> storages = new ArrayList<>();
        List<Range> ranges = new ArrayList<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA)) {
                if (!(e.getValue() instanceof Map<?, ?> md)) {
                    throw new WeightFileException("safetensors __metadata__ is not an object");
                }
                for (Map.Entry<?, ?> m : md.entrySet()) {
                    if (!(m.getValue() instanceof String v)) {
                        throw new WeightFileException("safetensors __metadata__ value for '" + m.getKey()
                                + "' is not a string");
                    }
                    metadata.put((String) m.getKey(), v);
                }
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> t)) {
                throw new WeightFileException("safetensors entry '" + name + "' is not an object");
            }
            if (!(t.get("dtype") instanceof String code)) {
                throw new WeightFileException("safetensors tensor '" + name + "' has no dtype");
            }
            DType dtype = DType.fromSafetensorsCode(code).orElseThrow(() ->
                    new WeightFileException("unsupported safetensors dtype " + code + " of '" + name + "'"));
            List<Long> shape = longs(t.get("shape"), name, "shape", -1);
            List<Long> offsets = longs(t.get("data_offsets"), name, "data_offsets", 2);
            long begin = offsets.get(0);
            long end = offsets.get(1);
            long numel = 1;
            long nbytes;
            try {
                for (long d : shape) {
                    numel = Math.multiplyExact(numel, d);
                }
                nbytes = Math.multiplyExact(numel, (long) dtype.size());
            } catch (ArithmeticException ex) {
                throw new WeightFileException("safetensors tensor '" + name + "' shape overflows");
            }
            if (end < begin || end - begin != nbytes || end > dataLength) {
                throw new WeightFileException("safetensors tensor '" + name + "' has data_offsets [" + begin + ", "
                        + end + "] that do not fit " + shape + " x " + dtype.size() + " bytes in the data area");
            }
            List<Long> stride = new ArrayList<>(shape);
            long st = 1;
            for (int i = shape.size() - 1; i >= 0; i--) {
                stride.set(i, st);
                st = st * Math.max(1, shape.get(i));
            }
            tensors.add(new TensorInfo(name, List.of(), dtype, shape, stride, 0, name));
            storages.add(new StorageInfo(name, dtype, numel, dataStart + begin, nbytes, ByteOrder.LITTLE_ENDIAN, "",
                    List.of()));
            ranges.add(new Range(name, begin, end));
        }
        ranges.sort(Comparator.comparingLong(Range::begin).thenComparingLong(Range::end));
        long at = 0;
        for (Range r : ranges) {
            if (r.begin() != at) {
                throw new WeightFileException("safetensors data of '" + r.name() + "' "
                        + (r.begin() < at ? "overlaps another tensor" : "leaves a gap"));
            }
            at = r.end();
        }
        if (at != dataLength) {
            throw new WeightFileException("safetensors data area has " + dataLength + " bytes, tensors cover " + at);
        }
        return new WeightFile(path, FormatKind.SAFETENSORS, size, tensors, storages, metadata, "", "");
    }

    private static List<Long> longs(Object o, String name, String field, int length) throws WeightFileException {
        if (!(o instanceof List<?> l) || length >= 0 && l.size() != length || l.size() > 64) {
            throw new WeightFileException("safetensors tensor '" + name + "' has an invalid " + field);
        }
        List<Long> r = new ArrayList<>();
        for (Object v : l) {
            if (!(v instanceof Long x) || x < 0) {
                throw new WeightFileException("safetensors tensor '" + name + "' has an invalid " + field
                        + (v instanceof BigInteger ? " (too large)" : ""));
            }
            r.add(x);
        }
        return r;
    }

    private static ByteBuffer readFully(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new WeightFileException("unexpected end of file");
            }
        }
        return b.flip();
    }
}
