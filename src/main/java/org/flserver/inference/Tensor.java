package org.flserver.inference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.flserver.tensor.DType;
import org.flserver.tensor.DenseTensor;
import org.flserver.tensor.HalfFloats;

/**
 * A dense tensor as it passes between the API and the inference backend: a dtype, a shape and the
 * elements in row-major order as little-endian bytes. Plain Java, so that nothing outside the
 * backend depends on the native runtime (which may be absent).
 */
public record Tensor(DType dtype, long[] shape, ByteBuffer data) implements DenseTensor {

    public Tensor {
        shape = shape.clone();
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        if (data.remaining() != Math.multiplyExact(n, (long) dtype.size())) {
            throw new IllegalArgumentException(data.remaining() + " bytes for " + n + " elements of " + dtype);
        }
        data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A float32 tensor of the given shape holding {@code values}. */
    public static Tensor ofFloats(long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new Tensor(DType.FLOAT32, shape, b);
    }

    /** An int64 tensor of the given shape holding {@code values}. */
    public static Tensor ofLongs(long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new Tensor(DType.INT64, shape, b);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long numel() {
        return data.remaining() / dtype.size();
    }

    /** The elements as doubles, whatever the dtype (for statistics and JSON). */
    public double[] toDoubles() {
        int n = Math.toIntExact(numel());
        double[] v = new double[n];
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            v[i] = switch (dtype) {
                case FLOAT64 -> b.getDouble(i * 8);
                case FLOAT32 -> b.getFloat(i * 4);
                case FLOAT16 -> HalfFloats.halfToFloat(b.getShort(i * 2));
                case BFLOAT16 -> HalfFloats.bfloat16ToFloat(b.getShort(i * 2));
                case INT64 -> b.getLong(i * 8);
                case INT32 -> b.getInt(i * 4);
                case INT16 -> b.getShort(i * 2);
                case INT8 -> b.get(i);
                case UINT8 -> b.get(i) & 0xff;
                case BOOL -> b.get(i) != 0 ? 1 : 0;
                default -> throw new IllegalArgumentException("no numeric view of " + dtype);
            };
        }
        return v;
    }
}
