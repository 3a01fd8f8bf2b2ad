package org.flserver.aggregation;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernels of the robust rules: the sorting networks give a sort's order statistics for every
 * N from 1 to 64, the sortable keys order floats like {@link Float#compare}, and the Vector API
 * forms give the scalar forms' bits on random data with ties, ±0, subnormals and extreme values.
 */
class RobustKernelsTest {

    private static final float[] SPECIAL = {0.0f, -0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL,
            -Float.MIN_NORMAL / 3, Float.MAX_VALUE, -Float.MAX_VALUE, 1.0f, -1.0f, 0.5f, 3e-39f};

    /** Finite floats: a quarter special values (many ties), the rest random bits of every exponent. */
    private static float[][] randomRows(SplittableRandom r, int rows, int n) {
        float[][] x = new float[rows][n];
        for (float[] row : x) {
            for (int j = 0; j < n; j++) {
                int kind = r.nextInt(8);
                row[j] = kind < 2 ? SPECIAL[r.nextInt(SPECIAL.length)]
                        : kind == 2 ? (float) r.nextInt(-3, 4) // small integers: ties
                        : Float.intBitsToFloat(r.nextInt() & 0xBF7FFFFF | (r.nextBoolean() ? 0x80000000 : 0));
            }
        }
        return x;
    }

    @Test
    void keysOrderFloatsLikeFloatCompareAndInvert() {
        SplittableRandom r = new SplittableRandom(1);
        float[] v = randomRows(r, 1, 5000)[0];
        for (int i = 0; i + 1 < v.length; i++) {
            int want = Integer.signum(Float.compare(v[i], v[i + 1]));
            assertEquals(want, Integer.signum(Integer.compare(RobustKernels.key(v[i]), RobustKernels.key(v[i + 1]))),
                    v[i] + " vs " + v[i + 1]);
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(RobustKernels.fromKey(RobustKernels.key(v[i]))));
        }
        assertFalse(RobustKernels.scalarWiden(new float[] {0, Float.NEGATIVE_INFINITY}, new double[2], 2));
        float[] extremes = new float[RobustKernels.TILE];
        extremes[0] = Float.MAX_VALUE;
        extremes[1] = -Float.MAX_VALUE;
        extremes[2] = -0.0f;
        int[] k = new int[RobustKernels.TILE];
        assertTrue(RobustKernels.scalarKeysTile(new float[][] {extremes}, 1, 0, k));
        assertEquals(RobustKernels.key(-Float.MAX_VALUE), k[1]);
    }

    /** Every N from 1 to 64 and every range a rule reads: the network's rows equal a sort's rows there. */
    @Test
    void networksGiveTheOrderStatisticsOfASort() {
        SplittableRandom r = new SplittableRandom(2);
        int n = RobustKernels.TILE;
        for (int rows = 1; rows <= 64; rows++) {
            int h = rows >> 1;
            int[][] ranges = {{0, rows - 1}, {(rows & 1) == 1 ? h : h - 1, h}, {rows / 10, rows - rows / 10 - 1},
                    {(rows - 1) / 3, rows - 1 - (rows - 1) / 3}};
            for (int[] range : ranges) {
                SortingNetwork net = SortingNetwork.sorting(rows, range[0], range[1]);
                float[][] x = randomRows(r, rows, n);
                int[] keys = new int[rows * n];
                assertTrue(RobustKernels.scalarKeysTile(x, rows, 0, keys));
                RobustKernels.scalarSortTile(keys, net.groups(n), net.lo(n), net.hi(n));
                for (int j = 0; j < n; j++) {
                    float[] col = new float[rows];
                    for (int c = 0; c < rows; c++) {
                        col[c] = x[c][j];
                    }
                    Arrays.sort(col); // Float.compare's order: -0.0 before 0.0
                    for (int k = range[0]; k <= range[1]; k++) {
                        assertEquals(Float.floatToRawIntBits(col[k]), Float.floatToRawIntBits(RobustKernels.fromKey(keys[k * n + j])),
                                "N = " + rows + ", rows " + Arrays.toString(range) + ", row " + k + ", column " + j);
                    }
                }
            }
        }
    }

    /**
     * The scalar tile forms against their definitions, column by column: the median (middle value,
     * or the mean of the two middle values in double), the trimmed mean (kept values summed in
     * ascending order from 0.0 in double, divided, rounded once) and the trim counts (compared as
     * floats).
     */
    @Test
    void scalarTileFormsFollowTheirDefinitions() {
        SplittableRandom r = new SplittableRandom(5);
        int n = RobustKernels.TILE;
        for (int rows = 1; rows <= 40; rows++) {
            int trim = rows / 3;
            float[][] x = randomRows(r, rows + 1, n + 7); // a spare row and columns: only rows [0, rows) of columns [7, 7 + TILE) count
            int[] keys = new int[rows * n];
            assertTrue(RobustKernels.scalarKeysTile(x, rows, 7, keys));
            SortingNetwork full = SortingNetwork.sorting(rows, 0, rows - 1);
            RobustKernels.scalarSortTile(keys, full.groups(n), full.lo(n), full.hi(n));
            float[] mean = new float[n + 3];
            float[] median = new float[n + 3];
            RobustKernels.scalarMeanTile(keys, trim, rows - trim, rows - 2 * trim, mean, 3);
            RobustKernels.scalarMedianTile(keys, rows, median, 3);
            long[] low = new long[rows];
            long[] high = new long[rows];
            RobustKernels.scalarCountTrimmed(x, rows, 7, keys, trim, rows - trim - 1, low, high);
            long[] wantLow = new long[rows];
            long[] wantHigh = new long[rows];
            for (int j = 0; j < n; j++) {
                float[] col = new float[rows];
                for (int c = 0; c < rows; c++) {
                    col[c] = x[c][7 + j];
                }
                Arrays.sort(col);
                double sum = 0;
                for (int k = trim; k < rows - trim; k++) {
                    sum += col[k];
                }
                assertEquals(Float.floatToRawIntBits((float) (sum / (rows - 2 * trim))), Float.floatToRawIntBits(mean[3 + j]));
                int h = rows >> 1;
                float med = (rows & 1) == 1 ? col[h] : (float) (((double) col[h - 1] + col[h]) / 2);
                assertEquals(med, median[3 + j], 0.0f, "N = " + rows + ", column " + j); // ±0 may differ only in sign
                for (int c = 0; c < rows; c++) {
                    wantLow[c] += x[c][7 + j] < col[trim] ? 1 : 0;
                    wantHigh[c] += x[c][7 + j] > col[rows - trim - 1] ? 1 : 0;
                }
            }
            assertArrayEquals(wantLow, low, "N = " + rows);
            assertArrayEquals(wantHigh, high, "N = " + rows);
        }
        float[][] bad = randomRows(r, 3, n);
        bad[1][n - 1] = Float.NaN;
        assertFalse(RobustKernels.scalarKeysTile(bad, 3, 0, new int[3 * n]));
        bad[1][n - 1] = 0;
        bad[2][0] = Float.POSITIVE_INFINITY;
        assertFalse(RobustKernels.scalarKeysTile(bad, 3, 0, new int[3 * n]));
        assertTrue(RobustKernels.scalarKeysTile(bad, 2, 0, new int[3 * n]));
    }

    /** The 0-1 principle: a full network sorts every 0-1 input, for every N up to 14 exhaustively. */
    @Test
    void fullNetworksSortEveryZeroOneInput() {
        int t = RobustKernels.TILE;
        for (int rows = 1; rows <= 14; rows++) {
            SortingNetwork net = SortingNetwork.sorting(rows, 0, rows - 1);
            int inputs = 1 << rows;
            for (int m0 = 0; m0 < inputs; m0 += t) {
                int[] keys = new int[rows * t];
                for (int j = 0; j < t; j++) {
                    for (int c = 0; c < rows; c++) {
                        keys[c * t + j] = ((m0 + j) >> c) & 1;
                    }
                }
                RobustKernels.scalarSortTile(keys, net.groups(t), net.lo(t), net.hi(t));
                for (int j = 0; j < t && m0 + j < inputs; j++) {
                    int ones = Integer.bitCount(m0 + j);
                    for (int c = 0; c < rows; c++) {
                        assertEquals(c >= rows - ones ? 1 : 0, keys[c * t + j], "N = " + rows + ", input " + (m0 + j));
                    }
                }
            }
        }
    }

    @Test
    void vectorFormsGiveTheScalarBits() {
        assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && VectorRobustKernels.supported(),
                "Vector API absent or vectors too narrow: only the scalar forms run here");
        assertTrue(RobustKernels.VECTOR, "the probe must have chosen the vector forms");
        SplittableRandom r = new SplittableRandom(3);
        int t = RobustKernels.TILE;
        for (int rows = 1; rows <= 64; rows++) {
            int n = 1 + r.nextInt(200);
            float[][] x = randomRows(r, rows, Math.max(n, 2 * t));
            int trim = rows / 10;
            SortingNetwork net = SortingNetwork.sorting(rows, trim, rows - trim - 1);
            int[] kv = new int[rows * t];
            int[] ks = new int[rows * t];
            int from = r.nextInt(t);
            assertTrue(VectorRobustKernels.keysTile(x, rows, from, kv));
            assertTrue(RobustKernels.scalarKeysTile(x, rows, from, ks));
            assertArrayEquals(ks, kv, "keys, N = " + rows);
            VectorRobustKernels.sortTile(kv, net.groups(t), net.lo(t), net.hi(t));
            RobustKernels.scalarSortTile(ks, net.groups(t), net.lo(t), net.hi(t));
            assertArrayEquals(ks, kv, "sorted keys, N = " + rows);
            float[] fv = new float[t + 9];
            float[] fs = new float[t + 9];
            VectorRobustKernels.meanTile(kv, trim, rows - trim, rows - 2 * trim, fv, 9, new float[kv.length], new double[t]);
            RobustKernels.scalarMeanTile(ks, trim, rows - trim, rows - 2 * trim, fs, 9);
            assertArrayEquals(fs, fv, "means, N = " + rows);
            long[] lowV = new long[rows];
            long[] lowS = new long[rows];
            long[] highV = new long[rows];
            long[] highS = new long[rows];
            VectorRobustKernels.countTrimmed(x, rows, from, kv, trim, rows - trim - 1, lowV, highV, new float[kv.length]);
            RobustKernels.scalarCountTrimmed(x, rows, from, ks, trim, rows - trim - 1, lowS, highS);
            assertArrayEquals(lowS, lowV, "trimmed low, N = " + rows);
            assertArrayEquals(highS, highV, "trimmed high, N = " + rows);
            int h = rows >> 1;
            SortingNetwork middle = SortingNetwork.sorting(rows, (rows & 1) == 1 ? h : h - 1, h);
            assertTrue(VectorRobustKernels.keysTile(x, rows, from, kv));
            assertTrue(RobustKernels.scalarKeysTile(x, rows, from, ks));
            VectorRobustKernels.sortTile(kv, middle.groups(t), middle.lo(t), middle.hi(t));
            RobustKernels.scalarSortTile(ks, middle.groups(t), middle.lo(t), middle.hi(t));
            VectorRobustKernels.medianTile(kv, rows, fv, 2, new float[kv.length]);
            RobustKernels.scalarMedianTile(ks, rows, fs, 2);
            assertArrayEquals(fs, fv, "medians, N = " + rows);
            double[][] dv = new double[rows][n];
            double[][] ds = new double[rows][n];
            for (int c = 0; c < rows; c++) {
                assertTrue(VectorRobustKernels.widen(x[c], dv[c], n));
                assertTrue(RobustKernels.scalarWiden(x[c], ds[c], n));
                assertArrayEquals(ds[c], dv[c]);
            }
        }
        float[] bad = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, Float.NaN, 19, 20};
        assertFalse(VectorRobustKernels.widen(bad, new double[bad.length], bad.length));
        bad[17] = 18;
        bad[3] = Float.NEGATIVE_INFINITY;
        assertFalse(VectorRobustKernels.widen(bad, new double[bad.length], bad.length));
        float[][] rows = randomRows(r, 3, 2 * t);
        assertTrue(VectorRobustKernels.keysTile(rows, 3, t, new int[3 * t]));
        rows[2][2 * t - 1] = Float.NaN;
        assertFalse(VectorRobustKernels.keysTile(rows, 3, t, new int[3 * t]));
        assertTrue(VectorRobustKernels.keysTile(rows, 2, t, new int[3 * t]));
        assertTrue(VectorRobustKernels.keysTile(rows, 3, 0, new int[3 * t]));
        rows[0][t] = Float.NEGATIVE_INFINITY;
        assertFalse(VectorRobustKernels.keysTile(rows, 3, t, new int[3 * t]));
    }
}
