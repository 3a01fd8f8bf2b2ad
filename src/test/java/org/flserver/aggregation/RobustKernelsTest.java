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
        int[] k = new int[3];
        assertFalse(RobustKernels.scalarToKeys(new float[] {1, Float.NaN, 2}, k, 0, 3));
        assertFalse(RobustKernels.scalarToKeys(new float[] {Float.POSITIVE_INFINITY}, k, 0, 1));
        assertFalse(RobustKernels.scalarWiden(new float[] {0, Float.NEGATIVE_INFINITY}, new double[2], 2));
        assertTrue(RobustKernels.scalarToKeys(new float[] {Float.MAX_VALUE, -Float.MAX_VALUE, -0.0f}, k, 0, 3));
    }

    /** Every N from 1 to 64 and every range a rule reads: the network's rows equal a sort's rows there. */
    @Test
    void networksGiveTheOrderStatisticsOfASort() {
        SplittableRandom r = new SplittableRandom(2);
        int n = 37;
        for (int rows = 1; rows <= 64; rows++) {
            int h = rows >> 1;
            int[][] ranges = {{0, rows - 1}, {(rows & 1) == 1 ? h : h - 1, h}, {rows / 10, rows - rows / 10 - 1},
                    {(rows - 1) / 3, rows - 1 - (rows - 1) / 3}};
            for (int[] range : ranges) {
                SortingNetwork net = SortingNetwork.sorting(rows, range[0], range[1]);
                float[][] x = randomRows(r, rows, n);
                int[][] keys = new int[rows][n];
                for (int c = 0; c < rows; c++) {
                    RobustKernels.scalarToKeys(x[c], keys[c], 0, n);
                }
                RobustKernels.scalarSort(net, keys, 0, n);
                for (int j = 0; j < n; j++) {
                    float[] col = new float[rows];
                    for (int c = 0; c < rows; c++) {
                        col[c] = x[c][j];
                    }
                    Arrays.sort(col); // Float.compare's order: -0.0 before 0.0
                    for (int k = range[0]; k <= range[1]; k++) {
                        assertEquals(Float.floatToRawIntBits(col[k]), Float.floatToRawIntBits(RobustKernels.fromKey(keys[k][j])),
                                "N = " + rows + ", rows " + Arrays.toString(range) + ", row " + k + ", column " + j);
                    }
                }
            }
        }
    }

    /** The 0-1 principle: a full network sorts every 0-1 input, for every N up to 14 exhaustively. */
    @Test
    void fullNetworksSortEveryZeroOneInput() {
        for (int rows = 1; rows <= 14; rows++) {
            SortingNetwork net = SortingNetwork.sorting(rows, 0, rows - 1);
            int inputs = 1 << rows;
            int[][] keys = new int[rows][inputs];
            for (int m = 0; m < inputs; m++) {
                for (int c = 0; c < rows; c++) {
                    keys[c][m] = (m >> c) & 1;
                }
            }
            RobustKernels.scalarSort(net, keys, 0, inputs);
            for (int m = 0; m < inputs; m++) {
                int ones = Integer.bitCount(m);
                for (int c = 0; c < rows; c++) {
                    assertEquals(c >= rows - ones ? 1 : 0, keys[c][m], "N = " + rows + ", input " + m);
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
        for (int rows = 1; rows <= 64; rows++) {
            int n = 1 + r.nextInt(200);
            float[][] x = randomRows(r, rows, n);
            int trim = rows / 10;
            SortingNetwork net = SortingNetwork.sorting(rows, trim, rows - trim - 1);
            int[][] kv = new int[rows][n];
            int[][] ks = new int[rows][n];
            double[][] dv = new double[rows][n];
            double[][] ds = new double[rows][n];
            for (int c = 0; c < rows; c++) {
                assertTrue(VectorRobustKernels.toKeys(x[c], kv[c], 0, n));
                assertTrue(RobustKernels.scalarToKeys(x[c], ks[c], 0, n));
                assertArrayEquals(ks[c], kv[c]);
                assertTrue(VectorRobustKernels.widen(x[c], dv[c], n));
                assertTrue(RobustKernels.scalarWiden(x[c], ds[c], n));
                assertArrayEquals(ds[c], dv[c]);
            }
            int from = r.nextInt(n);
            VectorRobustKernels.sort(net, kv, from, n);
            RobustKernels.scalarSort(net, ks, from, n);
            float[] fv = new float[n];
            float[] fs = new float[n];
            double[] av = new double[n];
            double[] as = new double[n];
            for (int c = 0; c < rows; c++) {
                assertArrayEquals(ks[c], kv[c], "sorted keys, N = " + rows);
                VectorRobustKernels.fromKeys(kv[c], fv, 0, n);
                RobustKernels.scalarFromKeys(ks[c], fs, 0, n);
                assertArrayEquals(fs, fv);
                VectorRobustKernels.addWidened(av, c == 0, fv, from, n);
                RobustKernels.scalarAddWidened(as, c == 0, fs, from, n);
                assertEquals(RobustKernels.scalarCountBelow(x[c], fs, from, n), VectorRobustKernels.countBelow(x[c], fv, from, n));
                assertEquals(RobustKernels.scalarCountBelow(fs, x[c], 0, n), VectorRobustKernels.countBelow(fv, x[c], 0, n));
            }
            assertArrayEquals(as, av, "ordered sums, N = " + rows);
            VectorRobustKernels.divide(fv, av, rows - 2 * trim, from, n);
            RobustKernels.scalarDivide(fs, as, rows - 2 * trim, from, n);
            assertArrayEquals(fs, fv, "means, N = " + rows);
            int pairs = rows * (rows - 1) / 2;
            double[] pv = new double[pairs];
            double[] ps = new double[pairs];
            int t0 = r.nextInt(n);
            VectorRobustKernels.pairDistances(dv, rows, t0, n, pv);
            int p = 0;
            for (int a = 0; a < rows; a++) {
                for (int b = a + 1; b < rows; b++) {
                    ps[p++] = RobustKernels.scalarSquaredDistance(ds[a], ds[b], t0, n);
                    assertEquals(Double.doubleToRawLongBits(ps[p - 1]),
                            Double.doubleToRawLongBits(VectorRobustKernels.squaredDistance(dv[a], dv[b], t0, n)));
                }
            }
            assertArrayEquals(ps, pv, "pairwise distances, N = " + rows);
        }
        float[] bad = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, Float.NaN, 19, 20};
        assertFalse(VectorRobustKernels.toKeys(bad, new int[bad.length], 1, bad.length));
        assertFalse(VectorRobustKernels.widen(bad, new double[bad.length], bad.length));
        bad[17] = 18;
        bad[3] = Float.NEGATIVE_INFINITY;
        assertFalse(VectorRobustKernels.toKeys(bad, new int[bad.length], 1, bad.length));
        assertFalse(VectorRobustKernels.widen(bad, new double[bad.length], bad.length));
    }

    /** Krum's fixed summation order: the distance equals the eight interleaved sums added as a tree. */
    @Test
    void squaredDistanceFollowsTheDocumentedOrder() {
        SplittableRandom r = new SplittableRandom(4);
        for (int len = 0; len < 40; len++) {
            double[] a = new double[len + 3];
            double[] b = new double[len + 3];
            for (int j = 0; j < a.length; j++) {
                a[j] = r.nextDouble(-1e3, 1e3);
                b[j] = r.nextDouble(-1e-3, 1e-3);
            }
            double[] s = new double[8];
            for (int j = 3; j < len + 3; j++) {
                double e = a[j] - b[j];
                s[(j - 3) % 8] = Math.fma(e, e, s[(j - 3) % 8]);
            }
            double want = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            assertEquals(want, RobustKernels.scalarSquaredDistance(a, b, 3, len + 3), 0.0);
            assertEquals(want, RobustKernels.squaredDistance(a, b, 3, len + 3), 0.0);
        }
    }
}
