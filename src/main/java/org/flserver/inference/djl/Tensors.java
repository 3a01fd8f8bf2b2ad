package org.flserver.inference.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumMap;
import java.util.Map;
import org.flserver.inference.InferenceException;
import org.flserver.inference.Tensor;
import org.flserver.tensor.DType;

/**
 * Copies tensors between the server's {@link Tensor} and libtorch, byte for byte.
 *
 * <p>Only the dtypes DJL 0.36's JNI maps can cross into libtorch: float32/64/16, int64/32/8, uint8
 * and bool. It aborts the JVM ({@code std::terminate}) on any other dtype code, bfloat16 and int16
 * included (tried), so those are refused before any native call. Outputs of dtypes DJL does not
 * name (bfloat16, int16: it reports them as {@code unknown}) are converted to float32 by libtorch,
 * which is exact for both.
 */
final class Tensors {

    private static final Map<DType, DataType> TO_DJL = new EnumMap<>(DType.class);

    static {
        TO_DJL.put(DType.FLOAT32, DataType.FLOAT32);
        TO_DJL.put(DType.FLOAT64, DataType.FLOAT64);
        TO_DJL.put(DType.FLOAT16, DataType.FLOAT16);
        TO_DJL.put(DType.INT64, DataType.INT64);
        TO_DJL.put(DType.INT32, DataType.INT32);
        TO_DJL.put(DType.INT8, DataType.INT8);
        TO_DJL.put(DType.UINT8, DataType.UINT8);
        TO_DJL.put(DType.BOOL, DataType.BOOLEAN);
    }

    private Tensors() {
    }

    /** A libtorch copy of {@code t}, owned by {@code manager}. */
    static PtNDArray toNative(PtNDManager manager, Tensor t) throws InferenceException {
        DataType type = TO_DJL.get(t.dtype());
        if (type == null) {
            throw new InferenceException(400, "inference takes inputs of dtype float32, float64, float16, int64, "
                    + "int32, int8, uint8 or bool, not " + t.dtype().torchName());
        }
        long[] shape = t.shape();
        if (t.numel() > Integer.MAX_VALUE / 8) {
            throw new InferenceException(400, "the input has too many elements (" + t.numel() + ")");
        }
        ByteBuffer src = t.data().duplicate();
        // A direct buffer in native order: DJL hands it to torch::from_blob and keeps it referenced by the
        // NDArray, so it lives as long as the tensor does.
        ByteBuffer direct = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN || t.dtype().size() == 1) {
            direct.put(src);
        } else {
            throw new IllegalStateException("big-endian hosts are not supported");
        }
        direct.flip();
        return (PtNDArray) manager.create(direct, new Shape(shape), type);
    }

    /** A Java copy of {@code a} (the native memory may be freed right after). */
    static Tensor fromNative(NDArray a) throws InferenceException {
        NDArray array = a;
        DType dtype = fromDjl(array.getDataType());
        if (dtype == null) {
            long n = array.size();
            ByteBuffer raw = array.toByteBuffer();
            if (n > 0 && raw.remaining() == 2 * n) {
                // bfloat16 or int16, which DJL cannot name: float32 holds either exactly.
                array = array.toType(DataType.FLOAT32, false);
                dtype = DType.FLOAT32;
            } else {
                throw new InferenceException(400, "the module's output has a dtype the server cannot return ("
                        + array.getDataType() + ")");
            }
        }
        ByteBuffer bytes = array.toByteBuffer();
        ByteBuffer copy = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(bytes);
        copy.flip();
        return new Tensor(dtype, array.getShape().getShape(), copy);
    }

    private static DType fromDjl(DataType type) {
        return switch (type) {
            case FLOAT32 -> DType.FLOAT32;
            case FLOAT64 -> DType.FLOAT64;
            case FLOAT16 -> DType.FLOAT16;
            case BFLOAT16 -> DType.BFLOAT16;
            case INT64 -> DType.INT64;
            case INT32 -> DType.INT32;
            case INT16 -> DType.INT16;
            case INT8 -> DType.INT8;
            case UINT8 -> DType.UINT8;
            case BOOLEAN -> DType.BOOL;
            case COMPLEX64 -> DType.COMPLEX64;
            default -> null;
        };
    }
}
