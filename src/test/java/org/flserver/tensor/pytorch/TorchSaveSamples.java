package org.flserver.tensor.pytorch;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.flserver.tensor.DType;
import org.flserver.tensor.HalfFloats;
import org.flserver.tensor.pytorch.TorchSaveWriter.TensorData;

/**
 * Structures for {@link TorchSaveWriter} tests, shared by the plain unit test and the integration
 * test that loads the written files with real PyTorch: the inference result of api.md §15.10, every
 * dtype, and edge shapes (0-dim, empty, a stride that needs pickle {@code LONG1}, a tuple of more
 * than three dimensions, deep nesting, a non-ASCII key).
 */
public final class TorchSaveSamples {

    private TorchSaveSamples() {
    }

    /** {@code {"inference": int64[4], "uncertainty": {"variance": f32[2,3], "std": f32[2,3]}}}. */
    public static Map<String, Object> inferenceResult() {
        Map<String, Object> uncertainty = new LinkedHashMap<>();
        uncertainty.put("variance", floats(new long[]{2, 3}, 0.5f, 1.5f, -2f, 3.25f, 0f, 1e-8f));
        uncertainty.put("std", floats(new long[]{2, 3}, 1f, 2f, 3f, 4f, 5f, 6f));
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("inference", longs(new long[]{4}, 3, 0, -1, Long.MAX_VALUE));
        root.put("uncertainty", uncertainty);
        return root;
    }

    /** One tensor of every real dtype, with extreme and negative values. */
    public static Map<String, Object> allDtypes() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("float64", doubles(new long[]{3}, Math.PI, -0.5, Double.MAX_VALUE));
        root.put("float32", floats(new long[]{3}, Float.MIN_VALUE, -1f / 3, Float.MAX_VALUE));
        root.put("float16", halves(DType.FLOAT16, 1.5f, -2f, 65504f, 5.9604645e-8f));
        root.put("bfloat16", halves(DType.BFLOAT16, 1.5f, -2f, 256f, 0.0078125f));
        root.put("int64", longs(new long[]{2}, Long.MIN_VALUE, Long.MAX_VALUE));
        root.put("int32", ints(new long[]{2, 1, 1, 2}, 1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE));
        ByteBuffer shorts = le(4).putShort(Short.MIN_VALUE).putShort((short) 7);
        root.put("int16", new TensorData(DType.INT16, new long[]{2}, shorts.flip()));
        root.put("int8", tensor(DType.INT8, new long[]{3}, new byte[]{-128, 0, 127}));
        root.put("uint8", tensor(DType.UINT8, new long[]{1, 2, 2}, new byte[]{0, (byte) 255, 7, (byte) 128}));
        root.put("bool", tensor(DType.BOOL, new long[]{3}, new byte[]{1, 0, 1}));
        return root;
    }

    /** Shapes and names that exercise every branch of the pickle encoding. */
    public static Map<String, Object> edgeShapes() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("scalar", doubles(new long[]{}, -1.25));
        root.put("empty", floats(new long[]{0}));
        root.put("no_rows", floats(new long[]{2, 0, 3}));
        root.put("huge_empty", floats(new long[]{0, 3_000_000_000L}));
        byte[] ramp = new byte[70_000];
        for (int i = 0; i < ramp.length; i++) {
            ramp[i] = (byte) i;
        }
        root.put("long_vector", tensor(DType.UINT8, new long[]{ramp.length}, ramp));
        float[] five = new float[8];
        for (int i = 0; i < five.length; i++) {
            five[i] = i - 3.5f;
        }
        root.put("five_dims", floats(new long[]{1, 2, 1, 2, 2}, five));
        root.put("nested", Map.of("deeper", Map.of("deepest", longs(new long[]{1}, 42))));
        root.put("ünï ✓ key", floats(new long[]{1}, 1f));
        root.put("nothing", Map.of());
        return root;
    }

    /** Writes {@code root} with ZIP64 central-directory fields for every record (as past 4 GiB). */
    public static void writeZip64(Path file, String archiveName, Map<String, ?> root) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            TorchSaveWriter.prepare(archiveName, root, 0).writeTo(out);
        }
    }

    /** The tensor's elements as Java numbers: Double for floating types, Long for integers, Boolean for bool. */
    public static Object[] values(TensorData t) {
        ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
        Object[] v = new Object[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (t.dtype()) {
                case FLOAT64 -> b.getDouble();
                case FLOAT32 -> (double) b.getFloat();
                case FLOAT16 -> (double) HalfFloats.halfToFloat(b.getShort());
                case BFLOAT16 -> (double) HalfFloats.bfloat16ToFloat(b.getShort());
                case INT64 -> b.getLong();
                case INT32 -> (long) b.getInt();
                case INT16 -> (long) b.getShort();
                case INT8 -> (long) b.get();
                case UINT8 -> (long) (b.get() & 0xFF);
                case BOOL -> b.get() != 0;
                default -> throw new IllegalArgumentException("no sample values for " + t.dtype());
            };
        }
        return v;
    }

    public static TensorData tensor(DType dtype, long[] shape, byte[] data) {
        return new TensorData(dtype, shape, ByteBuffer.wrap(data));
    }

    public static TensorData floats(long[] shape, float... values) {
        return filled(DType.FLOAT32, shape, values.length, b -> b.asFloatBuffer().put(values));
    }

    public static TensorData doubles(long[] shape, double... values) {
        return filled(DType.FLOAT64, shape, values.length, b -> b.asDoubleBuffer().put(values));
    }

    public static TensorData longs(long[] shape, long... values) {
        return filled(DType.INT64, shape, values.length, b -> b.asLongBuffer().put(values));
    }

    public static TensorData ints(long[] shape, int... values) {
        return filled(DType.INT32, shape, values.length, b -> b.asIntBuffer().put(values));
    }

    private static TensorData filled(DType dtype, long[] shape, int count, Consumer<ByteBuffer> fill) {
        ByteBuffer b = le(count * dtype.size());
        fill.accept(b);
        return new TensorData(dtype, shape, b);
    }

    private static TensorData halves(DType dtype, float... values) {
        ByteBuffer b = le(values.length * 2);
        for (float v : values) {
            b.putShort(dtype == DType.FLOAT16 ? HalfFloats.floatToHalf(v) : HalfFloats.floatToBfloat16(v));
        }
        return new TensorData(dtype, new long[]{values.length}, b.flip());
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
