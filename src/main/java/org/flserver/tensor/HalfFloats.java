package org.flserver.tensor;

/**
 * Conversions between float32 and the two 16-bit float formats, with round-to-nearest-even as torch's
 * {@code .to(torch.float16 / torch.bfloat16)} does. Java 17 has no {@code Float.floatToFloat16}
 * (it arrives in Java 20), so the bit manipulation is spelled out here.
 */
public final class HalfFloats {

    private HalfFloats() {
    }

    /** IEEE binary16 → float32 (exact). */
    public static float halfToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal (or zero): exact in float32
            return sign != 0 ? -v : v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13);
        }
        return Float.intBitsToFloat(sign | (exp + 112) << 23 | mant << 13);
    }

    /** float32 → IEEE binary16, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            return (short) (sign | 0x7E00 | (abs >>> 13) & 0x3FF);
        }
        if (abs >= 0x477FF000) { // >= 65520 rounds to infinity (65504 is the largest half)
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) { // below 2^-14: a half subnormal or zero
            int exp = abs >>> 23;
            if (exp < 101) {
                return (short) sign;
            }
            long mant = (abs & 0x7FFFFF) | 0x800000;
            int shift = 126 - exp;
            long q = mant >>> shift;
            long r = mant & ((1L << shift) - 1);
            long halfway = 1L << (shift - 1);
            if (r > halfway || r == halfway && (q & 1) != 0) {
                q++;
            }
            return (short) (sign | q);
        }
        int h = (abs - 0x38000000) >>> 13;
        int r = abs & 0x1FFF;
        if (r > 0x1000 || r == 0x1000 && (h & 1) != 0) {
            h++;
        }
        return (short) (sign | h);
    }

    /** bfloat16 → float32 (exact: the upper 16 bits of a float32). */
    public static float bfloat16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** float32 → bfloat16, rounding to nearest even; NaN stays a quiet NaN. */
    public static short floatToBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) (bits >>> 16 | 0x0040);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
