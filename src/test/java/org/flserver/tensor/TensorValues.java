package org.flserver.tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Test helper: the elements of one tensor in logical row-major order, converted exactly to double,
 * read from the file through the view (storage, offset, shape, stride) the reader reported. Summing
 * them and comparing with the manifest proves the byte ranges and the view arithmetic, not just the
 * table.
 */
final class TensorValues {

    private TensorValues() {
    }

    static double[] read(WeightFile f, TensorInfo t) throws IOException {
        long[] raw = readBits(f, t);
        double[] out = new double[raw.length];
        for (int k = 0; k < raw.length; k++) {
            out[k] = toDouble(t.dtype(), raw[k]);
        }
        return out;
    }

    /** Integer tensors: the exact values. Float tensors: the raw bit patterns. */
    static long[] readBits(WeightFile f, TensorInfo t) throws IOException {
        StorageInfo s = f.storage(t.storageKey()).orElseThrow();
        ByteBuffer b = ByteBuffer.allocate((int) s.length()).order(s.byteOrder());
        try (FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (ch.read(b, s.offset() + b.position()) < 0) {
                    throw new IOException("short file");
                }
            }
        }
        int n = (int) t.numel();
        long[] out = new long[n];
        int dims = t.shape().size();
        long[] idx = new long[dims];
        for (int k = 0; k < n; k++) {
            long e = t.storageOffset();
            for (int d = 0; d < dims; d++) {
                e += idx[d] * t.stride().get(d);
            }
            out[k] = element(b, t.dtype(), (int) e);
            for (int d = dims - 1; d >= 0; d--) {
                if (++idx[d] < t.shape().get(d)) {
                    break;
                }
                idx[d] = 0;
            }
        }
        return out;
    }

    private static double toDouble(DType t, long v) {
        return switch (t) {
            case FLOAT64 -> Double.longBitsToDouble(v);
            case FLOAT32 -> Float.intBitsToFloat((int) v);
            case FLOAT16 -> HalfFloats.halfToFloat((short) v);
            case BFLOAT16 -> HalfFloats.bfloat16ToFloat((short) v);
            default -> v;
        };
    }

    private static long element(ByteBuffer b, DType t, int i) {
        return switch (t) {
            case FLOAT64, INT64 -> b.getLong(i * 8);
            case FLOAT32 -> b.getInt(i * 4);
            case FLOAT16, BFLOAT16 -> b.getShort(i * 2) & 0xFFFF;
            case INT32 -> b.getInt(i * 4);
            case INT16 -> b.getShort(i * 2);
            case INT8 -> b.get(i);
            case UINT8, BOOL -> b.get(i) & 0xFF;
            default -> throw new IllegalArgumentException("complex tensors are not in the fixtures");
        };
    }
}
