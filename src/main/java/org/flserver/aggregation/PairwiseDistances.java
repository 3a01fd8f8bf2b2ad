package org.flserver.aggregation;

import java.util.SplittableRandom;

/**
 * Krum's first pass over one block: the squared L2 distance of every pair of the N clients' rows,
 * added to the pair's running total. It is most of Krum's cost (N(N − 1)/2 distances over every
 * component: 1225 × 10M fused multiply-adds for 50 clients of a 10M-parameter model), so it has a
 * register-blocked Vector API form ({@link VectorPairwiseDistances}) beside the scalar loops here,
 * and both give the same bits.
 *
 * <p>The order of the arithmetic, which fixes the bits: the distance of rows a and b over a block
 * of n components is summed in eight interleaved double accumulators (component j into
 * accumulator j mod 8), each updated as {@code s = fma(e, e, s)} with {@code e = a[j] − b[j]} in
 * ascending j (one rounding per component: half the floating-point operations of a multiply and an
 * add, and more accurate), and the eight are added as ((0+1)+(2+3))+((4+5)+(6+7)). The values are
 * float32 widened to double, so {@code e} is exact unless the two values lie more than 2^29 apart
 * in magnitude. The vector form keeps the eight accumulators of a pair in one 8-lane vector across
 * the whole block, so it needs 8-lane double vectors (AVX-512); on narrower machines the scalar
 * loops run. (The scalar {@link Math#fma} is one instruction on every x86-64 and AArch64 CPU with
 * FMA, which is where the server runs.)
 */
final class PairwiseDistances {

    /**
     * Whether the Vector API form runs (the incubator module is in the boot layer, 8-lane double
     * vectors exist and a probe agreed with the scalar loops); the system property
     * {@code org.flserver.aggregation.vector=false} turns it off, as for the other kernels.
     */
    static final boolean VECTOR = Boolean.parseBoolean(System.getProperty("org.flserver.aggregation.vector", "true"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && vectorFormAgrees();

    private PairwiseDistances() {
    }

    static String description() {
        return VECTOR ? "Vector API (jdk.incubator.vector)" : "scalar loops";
    }

    private static boolean vectorFormAgrees() {
        try {
            if (!VectorPairwiseDistances.supported()) {
                return false;
            }
            // Rows 1..9 (every padding of the 4-row groups), a length with a tail, extreme magnitudes.
            SplittableRandom r = new SplittableRandom(15);
            for (int rows = 1; rows <= 9; rows++) {
                int n = 8 * rows + 1 + r.nextInt(200);
                double[][] x = new double[rows][n];
                for (double[] row : x) {
                    for (int j = 0; j < n; j++) {
                        row[j] = r.nextInt(8) == 0 ? Float.MAX_VALUE * (r.nextBoolean() ? 1 : -1)
                                : (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-130, 100)));
                    }
                }
                int pairs = rows * (rows - 1) / 2;
                double[] v = new double[pairs];
                double[] s = new double[pairs];
                VectorPairwiseDistances.addAll(x, rows, n, v, new double[VectorPairwiseDistances.accumulators(rows)]);
                scalarAddAll(x, rows, n, s);
                for (int p = 0; p < pairs; p++) {
                    if (Double.doubleToRawLongBits(v[p]) != Double.doubleToRawLongBits(s[p])) {
                        return false;
                    }
                }
            }
            return true;
        } catch (LinkageError | RuntimeException e) {
            return false;
        }
    }

    /** Index of pair (a, b), a &lt; b, of n rows in the upper triangle stored row by row. */
    static int pairIndex(int a, int b, int n) {
        return a * (2 * n - a - 1) / 2 + (b - a - 1);
    }

    /**
     * total[pairIndex(a, b, rows)] += the squared distance of rows a &lt; b of x over components
     * [0, n), for every pair, in the order of the class comment.
     */
    static void addAll(double[][] x, int rows, int n, double[] total) {
        addAll(x, rows, n, total, scratch(rows));
    }

    /**
     * As {@link #addAll(double[][], int, int, double[])}, with the vector form's accumulators in
     * {@code scratch} (from {@link #scratch}, one per thread, reused block after block: for 50
     * clients they are 91 KiB, which a new array per block made into garbage at every block).
     */
    static void addAll(double[][] x, int rows, int n, double[] total, double[] scratch) {
        if (VECTOR) {
            VectorPairwiseDistances.addAll(x, rows, n, total, scratch);
        } else {
            scalarAddAll(x, rows, n, total);
        }
    }

    /** Scratch for {@link #addAll(double[][], int, int, double[], double[])} with this many rows. */
    static double[] scratch(int rows) {
        return new double[VECTOR ? VectorPairwiseDistances.accumulators(rows) : 0];
    }

    static void scalarAddAll(double[][] x, int rows, int n, double[] total) {
        int p = 0;
        for (int a = 0; a < rows; a++) {
            for (int b = a + 1; b < rows; b++) {
                total[p++] += squaredDistance(x[a], x[b], n);
            }
        }
    }

    /** The squared distance of a and b over [0, n) in the order of the class comment. */
    static double squaredDistance(double[] a, double[] b, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            double e0 = a[j] - b[j];
            double e1 = a[j + 1] - b[j + 1];
            double e2 = a[j + 2] - b[j + 2];
            double e3 = a[j + 3] - b[j + 3];
            double e4 = a[j + 4] - b[j + 4];
            double e5 = a[j + 5] - b[j + 5];
            double e6 = a[j + 6] - b[j + 6];
            double e7 = a[j + 7] - b[j + 7];
            s0 = Math.fma(e0, e0, s0);
            s1 = Math.fma(e1, e1, s1);
            s2 = Math.fma(e2, e2, s2);
            s3 = Math.fma(e3, e3, s3);
            s4 = Math.fma(e4, e4, s4);
            s5 = Math.fma(e5, e5, s5);
            s6 = Math.fma(e6, e6, s6);
            s7 = Math.fma(e7, e7, s7);
        }
        double[] s = {s0, s1, s2, s3, s4, s5, s6, s7};
        return finish(s, a, b, j, n);
    }

    /**
     * Adds components [j, n) (fewer than 8, j a multiple of 8) into s[0..] and sums the eight
     * accumulators in the fixed tree.
     */
    static double finish(double[] s, double[] a, double[] b, int j, int n) {
        for (int i = 0; j < n; j++, i++) {
            double e = a[j] - b[j];
            s[i] = Math.fma(e, e, s[i]);
        }
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }
}
