package org.flserver.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exhaustive checks of the 16-bit conversions: round trips and round-to-nearest-even at every midpoint. */
class HalfFloatsTest {

    @Test
    void everyHalfRoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.halfToFloat((short) h);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(f))));
            } else {
                assertEquals(h, HalfFloats.floatToHalf(f) & 0xFFFF, "half " + Integer.toHexString(h));
            }
        }
        assertEquals(65504f, HalfFloats.halfToFloat((short) 0x7BFF));
        assertEquals(0x1p-24f, HalfFloats.halfToFloat((short) 1));
    }

    @Test
    void halfMidpointsRoundToEven() {
        for (int h = 0; h < 0x7BFF; h++) { // positive finite halves and their successor
            float a = HalfFloats.halfToFloat((short) h);
            float b = HalfFloats.halfToFloat((short) (h + 1));
            float mid = (a + b) / 2; // exact: 12 significant bits
            int even = (h & 1) == 0 ? h : h + 1;
            assertEquals(even, HalfFloats.floatToHalf(mid) & 0xFFFF, "midpoint after " + Integer.toHexString(h));
            assertEquals(h, HalfFloats.floatToHalf(Math.nextDown(mid)) & 0xFFFF);
            assertEquals(h + 1, HalfFloats.floatToHalf(Math.nextUp(mid)) & 0xFFFF);
            assertEquals(h | 0x8000, HalfFloats.floatToHalf(-Math.nextDown(mid)) & 0xFFFF);
        }
        assertEquals(0x7C00, HalfFloats.floatToHalf(65520f) & 0xFFFF);
        assertEquals(0x7BFF, HalfFloats.floatToHalf(Math.nextDown(65520f)) & 0xFFFF);
        assertEquals(0, HalfFloats.floatToHalf(0x1p-25f) & 0xFFFF);
        assertEquals(1, HalfFloats.floatToHalf(Math.nextUp(0x1p-25f)) & 0xFFFF);
    }

    @Test
    void bfloat16RoundsToNearestEven() {
        for (int h = 0; h < 0x7F7F; h++) {
            float a = HalfFloats.bfloat16ToFloat((short) h);
            float b = HalfFloats.bfloat16ToFloat((short) (h + 1));
            assertEquals(h, HalfFloats.floatToBfloat16(a) & 0xFFFF);
            float mid = a + (b - a) / 2; // exact; (a + b) would overflow near the top
            int even = (h & 1) == 0 ? h : h + 1;
            assertEquals(even, HalfFloats.floatToBfloat16(mid) & 0xFFFF);
            assertEquals(h, HalfFloats.floatToBfloat16(Math.nextDown(mid)) & 0xFFFF);
            assertEquals(h + 1, HalfFloats.floatToBfloat16(Math.nextUp(mid)) & 0xFFFF);
        }
        assertEquals(0x7F80, HalfFloats.floatToBfloat16(Float.POSITIVE_INFINITY) & 0xFFFF);
        assertTrue(Float.isNaN(HalfFloats.bfloat16ToFloat(HalfFloats.floatToBfloat16(Float.NaN))));
    }
}
