package org.flserver.tensor;

import java.util.Locale;
import java.util.Optional;

/**
 * The element types a weight file may hold, with the three spellings the formats use for them:
 * torch's printed name ({@code float32}), the legacy typed-storage class ({@code FloatStorage})
 * and the safetensors code ({@code F32}).
 *
 * <p>One enum for all formats so that a tensor table from a PyTorch archive and one from a
 * safetensors file describe element types the same way, and the aggregation needs only one switch.
 * Complex types are readable (torch writes them as typed storages); for averaging they are treated
 * as pairs of their real component type, which is the same as averaging the complex values.
 */
public enum DType {
    FLOAT64("float64", "DoubleStorage", "F64", 8),
    FLOAT32("float32", "FloatStorage", "F32", 4),
    FLOAT16("float16", "HalfStorage", "F16", 2),
    BFLOAT16("bfloat16", "BFloat16Storage", "BF16", 2),
    INT64("int64", "LongStorage", "I64", 8),
    INT32("int32", "IntStorage", "I32", 4),
    INT16("int16", "ShortStorage", "I16", 2),
    INT8("int8", "CharStorage", "I8", 1),
    UINT8("uint8", "ByteStorage", "U8", 1),
    BOOL("bool", "BoolStorage", "BOOL", 1),
    COMPLEX64("complex64", "ComplexFloatStorage", "C64", 8),
    COMPLEX128("complex128", "ComplexDoubleStorage", "C128", 16);

    private final String torchName;
    private final String storageClass;
    private final String safetensorsCode;
    private final int size;

    DType(String torchName, String storageClass, String safetensorsCode, int size) {
        this.torchName = torchName;
        this.storageClass = storageClass;
        this.safetensorsCode = safetensorsCode;
        this.size = size;
    }

    /** The name torch prints without its {@code torch.} prefix, e.g. {@code bfloat16}. */
    public String torchName() {
        return torchName;
    }

    /** The legacy typed-storage class in {@code torch}, e.g. {@code FloatStorage}. */
    public String storageClass() {
        return storageClass;
    }

    /** The dtype code in a safetensors header, e.g. {@code F32}. */
    public String safetensorsCode() {
        return safetensorsCode;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT64 || this == FLOAT32 || this == FLOAT16 || this == BFLOAT16
                || this == COMPLEX64 || this == COMPLEX128;
    }

    public static Optional<DType> fromStorageClass(String name) {
        for (DType t : values()) {
            if (t.storageClass.equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    public static Optional<DType> fromSafetensorsCode(String code) {
        for (DType t : values()) {
            if (t.safetensorsCode.equals(code)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    public static Optional<DType> fromTorchName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (DType t : values()) {
            if (t.torchName.equals(n)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
