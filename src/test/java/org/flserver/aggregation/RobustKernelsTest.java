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
 * N from 1 to 64 and the trimmed mean's bounds networks its bounds for every N up to 80 and every
 * trim, the sortable keys order floats like {@link Float#compare}, the trimmed mean is the mean of
 * the kept values, and the Vector API forms give the scalar forms' bits on random data with ties,
 * ±0, subnormals and extreme values.
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

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Column j of rows x[0, rows), sorted in Float.compare's order (-0.0 before 0.0). */
    private static float[] sortedColumn(float[][] x, int rows, int j) {
        float[] col = new float[rows];
        for (int c = 0; c < rows; c++) {
            col[c] = x[c][j];
        }
        Arrays.sort(col);
        return col;
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
                    float[] col = sortedColumn(x, rows, j); // Float.compare's order: -0.0 before 0.0
                    for (int k = range[0]; k <= range[1]; k++) {
                        assertEquals(Float.floatToRawIntBits(col[k]), Float.floatToRawIntBits(RobustKernels.fromKey(keys[k * n + j])),
                                "N = " + rows + ", rows " + Arrays.toString(range) + ", row " + k + ", column " + j);
                    }
                }
            }
        }
    }

    /**
     * The scalar tile forms against their definitions, column by column from a sort: the median
     * (middle value, or the mean of the two middle values in double), the trimmed mean (every value
     * clamped to the (trim + 1)-th smallest and largest, L and H, summed in client order from 0.0 in
     * double, trim·L and trim·H taken off, divided, rounded once; within a few units in the last
     * place of the mean of the kept values, which is what it stands for) and the trim counts
     * (compared as floats).
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
            long[] low = new long[rows];
            long[] high = new long[rows];
            RobustKernels.scalarTrimmedMeanTile(x, rows, 7, keys, trim, rows - trim - 1, trim, mean, 3, low, high);
            RobustKernels.scalarMedianTile(keys, rows, median, 3);
            long[] wantLow = new long[rows];
            long[] wantHigh = new long[rows];
            for (int j = 0; j < n; j++) {
                float[] col = sortedColumn(x, rows, 7 + j);
                assertEquals(Float.floatToRawIntBits(trimmedMean(x, rows, 7 + j, col, trim)), Float.floatToRawIntBits(mean[3 + j]),
                        "N = " + rows + ", column " + j);
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

    /** The definition of the trimmed mean's tile form for column j of x, given the column sorted. */
    private static float trimmedMean(float[][] x, int rows, int j, float[] sorted, int trim) {
        float lo = sorted[trim];
        float hi = sorted[rows - trim - 1];
        double sum = 0.0;
        for (int c = 0; c < rows; c++) {
            sum += Math.min(Math.max(x[c][j], lo), hi);
        }
        return (float) ((sum - (double) trim * lo - (double) trim * hi) / (rows - 2 * trim));
    }

    /**
     * The clamped sum stands for the mean of the kept values: on values of one scale (where a sum of
     * 40 doubles is exact to far below a float's precision) it rounds to the same float as the exact
     * mean (BigDecimal) within one unit in the last place, whatever an outlier's size.
     */
    @Test
    void trimmedMeanIsTheMeanOfTheKeptValues() {
        SplittableRandom r = new SplittableRandom(8);
        int n = RobustKernels.TILE;
        for (int rows : new int[] {3, 10, 17, 50}) {
            int trim = rows / 10 + 1;
            float[][] x = new float[rows][n];
            for (int c = 0; c < rows; c++) {
                for (int j = 0; j < n; j++) {
                    x[c][j] = c == 0 ? 1e30f : (float) r.nextGaussian(); // client 0: an attacker's huge values
                }
            }
            int[] keys = new int[rows * n];
            assertTrue(RobustKernels.scalarKeysTile(x, rows, 0, keys));
            SortingNetwork.Bounds bounds = SortingNetwork.trimBounds(rows, trim);
            SortingNetwork net = bounds.network();
            RobustKernels.scalarSortTile(keys, net.groups(n), net.lo(n), net.hi(n));
            float[] mean = new float[n];
            long[] low = new long[rows];
            long[] high = new long[rows];
            RobustKernels.scalarTrimmedMeanTile(x, rows, 0, keys, bounds.lowRow(), bounds.highRow(), trim, mean, 0, low, high);
            for (int j = 0; j < n; j++) {
                float[] col = sortedColumn(x, rows, j);
                java.math.BigDecimal sum = java.math.BigDecimal.ZERO;
                for (int k = trim; k < rows - trim; k++) {
                    sum = sum.add(new java.math.BigDecimal(col[k]));
                }
                float exact = sum.divide(java.math.BigDecimal.valueOf(rows - 2 * trim), java.math.MathContext.DECIMAL128).floatValue();
                assertEquals(exact, mean[j], Math.ulp(exact), "N = " + rows + ", column " + j);
            }
            assertEquals(n, high[0], "the attacker's values are all trimmed high");
        }
    }

    /**
     * The trimmed mean's bounds networks (selection networks for N &ge; 16 and trim &lt; 8, sorts
     * otherwise) leave a sort's rows trim and N - trim - 1 in their bound rows, for every N from 1 to
     * 80 and every trim; for N = 16..20 exhaustively over every 0-1 input (the 0-1 principle holds for
     * the selection of one rank by comparators as for sorting).
     */
    @Test
    void boundsNetworksGiveTheOrderStatisticsOfASort() {
        SplittableRandom r = new SplittableRandom(9);
        int n = RobustKernels.TILE;
        for (int rows = 1; rows <= 80; rows++) {
            for (int trim = 0; 2 * trim < rows; trim++) {
                SortingNetwork.Bounds bounds = SortingNetwork.trimBounds(rows, trim);
                assertEquals(rows >= 16 && trim < 8 ? Integer.highestOneBit(2 * trim + 1) : 0, bounds.width(), "N = " + rows);
                SortingNetwork net = bounds.network();
                float[][] x = randomRows(r, rows, n);
                int[] keys = new int[rows * n];
                assertTrue(RobustKernels.scalarKeysTile(x, rows, 0, keys));
                RobustKernels.scalarSortTile(keys, net.groups(n), net.lo(n), net.hi(n));
                for (int j = 0; j < n; j++) {
                    float[] col = sortedColumn(x, rows, j);
                    String what = "N = " + rows + ", trim " + trim + ", column " + j;
                    assertEquals(col[trim], RobustKernels.fromKey(keys[bounds.lowRow() * n + j]), 0.0f, what);
                    assertEquals(col[rows - trim - 1], RobustKernels.fromKey(keys[bounds.highRow() * n + j]), 0.0f, what);
                }
            }
        }
        for (int rows = 16; rows <= 20; rows++) {
            for (int trim = 0; trim < 8; trim++) {
                SortingNetwork.Bounds bounds = SortingNetwork.trimBounds(rows, trim);
                SortingNetwork net = bounds.network();
                int inputs = 1 << rows;
                int[] keys = new int[rows * n];
                for (int m0 = 0; m0 < inputs; m0 += n) {
                    for (int j = 0; j < n; j++) {
                        for (int c = 0; c < rows; c++) {
                            keys[c * n + j] = ((m0 + j) >> c) & 1;
                        }
                    }
                    RobustKernels.scalarSortTile(keys, net.groups(n), net.lo(n), net.hi(n));
                    for (int j = 0; j < n; j++) {
                        int ones = Integer.bitCount(m0 + j);
                        String what = "N = " + rows + ", trim " + trim + ", input " + (m0 + j);
                        assertEquals(trim >= rows - ones ? 1 : 0, keys[bounds.lowRow() * n + j], what);
                        assertEquals(rows - trim - 1 >= rows - ones ? 1 : 0, keys[bounds.highRow() * n + j], what);
                    }
                }
            }
        }
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
            // trims 4..7 for most N >= 16: the register form of the selection network (lists of 8 rows)
            int trim = rows % 3 == 0 ? rows / 3 : rows >= 16 ? 4 + rows % 4 : rows / 10;
            SortingNetwork.Bounds bounds = SortingNetwork.trimBounds(rows, trim);
            SortingNetwork net = bounds.network();
            int[] kv = new int[rows * t];
            int[] ks = new int[rows * t];
            int from = r.nextInt(t);
            assertTrue(VectorRobustKernels.keysTile(x, rows, from, kv));
            assertTrue(RobustKernels.scalarKeysTile(x, rows, from, ks));
            assertArrayEquals(ks, kv, "keys, N = " + rows);
            if (bounds.width() == 8) {
                VectorRobustKernels.trimBounds8(kv, net.groups(t), rows);
            } else {
                VectorRobustKernels.sortTile(kv, net.groups(t), net.lo(t), net.hi(t));
            }
            RobustKernels.scalarSortTile(ks, net.groups(t), net.lo(t), net.hi(t));
            for (int row : new int[] {bounds.lowRow(), bounds.highRow()}) {
                assertArrayEquals(Arrays.copyOfRange(ks, row * t, row * t + t), Arrays.copyOfRange(kv, row * t, row * t + t),
                        "bound row " + row + ", N = " + rows + ", trim " + trim);
            }
            float[] fv = new float[t + 9];
            float[] fs = new float[t + 9];
            long[] lowV = new long[rows];
            long[] lowS = new long[rows];
            long[] highV = new long[rows];
            long[] highS = new long[rows];
            float[] lanes = new float[rows * VectorRobustKernels.countLanes()];
            for (int twice = 0; twice < 2; twice++) { // the lanes go on counting until flushed
                VectorRobustKernels.trimmedMeanTile(x, rows, from, kv, bounds.lowRow(), bounds.highRow(), trim, fv, 9, lanes,
                        new float[kv.length + 2 * t], new double[t]);
            }
            VectorRobustKernels.flushCounts(lanes, rows, lowV, highV);
            assertEquals(0, Arrays.stream(toDoubles(lanes)).filter(v -> v != 0).count(), "lanes zeroed by the flush");
            RobustKernels.scalarTrimmedMeanTile(x, rows, from, ks, bounds.lowRow(), bounds.highRow(), trim, fs, 9, lowS, highS);
            RobustKernels.scalarTrimmedMeanTile(x, rows, from, ks, bounds.lowRow(), bounds.highRow(), trim, fs, 9, lowS, highS);
            assertArrayEquals(fs, fv, "trimmed means, N = " + rows);
            assertArrayEquals(lowS, lowV, "trimmed low, N = " + rows);
            assertArrayEquals(highS, highV, "trimmed high, N = " + rows);
            int h = rows >> 1;
            SortingNetwork middle = SortingNetwork.sorting(rows, (rows & 1) == 1 ? h : h - 1, h);
            assertTrue(VectorRobustKernels.keysTile(x, rows, from, kv));
            assertTrue(RobustKernels.scalarKeysTile(x, rows, from, ks));
            VectorRobustKernels.sortTile(kv, middle.groups(t), middle.lo(t), middle.hi(t));
            RobustKernels.scalarSortTile(ks, middle.groups(t), middle.lo(t), middle.hi(t));
            assertArrayEquals(ks, kv, "sorted keys, N = " + rows);
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
