package org.flserver.tensor;

import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;

/**
 * One storage: a run of {@code numel} elements of one dtype, stored raw at a known byte range of the
 * file. Storages, not tensors, are what the aggregation averages and the writer overwrites, because
 * several tensors (tied weights, overlapping views) can share one storage.
 *
 * @param key          the storage key ({@code "0"}, {@code "1"}, … in PyTorch archives; the tensor
 *                     name in safetensors files, where every tensor has its own bytes)
 * @param dtype        element type
 * @param numel        number of elements
 * @param offset       absolute file offset of the first byte
 * @param length       number of bytes, always {@code numel × dtype.size()}
 * @param byteOrder    order of the element bytes in the file
 * @param location     the device string torch recorded ({@code cpu}, {@code cuda:0}); empty for
 *                     safetensors
 * @param crc32Offsets absolute file offsets of every CRC-32 field that covers these bytes (the
 *                     ZIP data descriptor or local header, and the central directory); empty
 *                     when the format has no checksum
 */
public record StorageInfo(String key, DType dtype, long numel, long offset, long length,
                          ByteOrder byteOrder, String location, List<Long> crc32Offsets) {

    public StorageInfo {
        Objects.requireNonNull(key);
        Objects.requireNonNull(dtype);
        Objects.requireNonNull(byteOrder);
        Objects.requireNonNull(location);
        crc32Offsets = List.copyOf(crc32Offsets);
        if (numel < 0 || offset < 0 || length != Math.multiplyExact(numel, (long) dtype.size())) {
            throw new IllegalArgumentException("inconsistent storage " + key);
        }
    }
}
