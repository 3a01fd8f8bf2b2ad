package org.flserver.tensor;

import java.nio.ByteBuffer;

/**
 * A dense tensor held in memory: a dtype, a shape, and its elements in row-major (C-contiguous)
 * order as little-endian bytes, the {@code remaining()} bytes of {@link #data()}. What writers such
 * as {@link org.flserver.tensor.pytorch.TorchSaveWriter} accept, so that a caller's own tensor type
 * can be handed over without copying its bytes.
 */
public interface DenseTensor {

    DType dtype();

    /** Sizes per dimension; empty for a 0-dim tensor. */
    long[] shape();

    /** The elements; exactly numel × {@code dtype().size()} bytes remain. */
    ByteBuffer data();
}
