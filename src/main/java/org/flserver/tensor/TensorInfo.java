package org.flserver.tensor;

import java.util.List;
import java.util.Objects;

/**
 * One tensor of a weight file, described by where its elements live, never by the elements
 * themselves: a view ({@code shape}, {@code stride}, {@code storageOffset}, all in elements) into
 * the storage named {@code storageKey}.
 *
 * @param name          the state_dict-style dotted name (first path found in the object tree)
 * @param aliases       further paths to the same tensor object (tied weights in module pickles)
 * @param dtype         element type
 * @param shape         sizes per dimension; empty for a 0-dim tensor
 * @param stride        element strides per dimension (row-major for safetensors)
 * @param storageOffset offset of the first element in its storage, in elements
 * @param storageKey    key of the storage in {@link WeightFile#storages()}
 */
public record TensorInfo(String name, List<String> aliases, DType dtype, List<Long> shape,
                         List<Long> stride, long storageOffset, String storageKey) {

    public TensorInfo {
        Objects.requireNonNull(name);
        aliases = List.copyOf(aliases);
        Objects.requireNonNull(dtype);
        shape = List.copyOf(shape);
        stride = List.copyOf(stride);
        Objects.requireNonNull(storageKey);
    }

    /** Number of elements of the view (the product of the shape, 1 for a 0-dim tensor). */
    public long numel() {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, s);
        }
        return n;
    }
}
