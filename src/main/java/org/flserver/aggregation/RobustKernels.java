package org.flserver.aggregation;

/**
 * The inner loops of the robust rules on float32 and double blocks: float ↔ sortable-int keys,
 * the compare-exchanges of a {@link SortingNetwork}, the trimmed mean's ordered double sums and its
 * trim counts, and Krum's squared distances. Each has a scalar form here and a Vector API form in
 * {@link VectorRobustKernels} that gives the same bits; the vector forms run when
 * {@link #VECTOR} is true (like {@link Float32Kernels#VECTOR}: the incubator module is in the boot
 * layer, the machine's vectors are wide enough, and a probe agreed with the scalar forms).
 *
 * <p>Keys: a finite float's bits {@code b} map to {@code b ^ ((b >> 31) & 0x7fffffff)}, an int whose
 * signed order is the floats' order with -0.0 just below 0.0 (as {@link Double#compare}); the map is
 * its own inverse. Sorting keys with integer min/max is one instruction per compare and the same
 * total order on every path; ±0 ties cannot change a sum or the mean of two middle values.
 *
 * <p>Krum's distance of two rows over [from, to) is summed in eight interleaved double
 * accumulators (component j into accumulator (j − from) mod 8), each updated as
 * {@code s = fma(e, e, s)} with {@code e = a[j] − b[j]} (one rounding per component: half the
 * floating-point operations of a multiply and an add, and more accurate), and the eight added as
 * ((0+1)+(2+3))+((4+5)+(6+7)): a fixed order, so both forms agree bit for bit and the scores do not
 * depend on the machine's vector width. (The scalar form's {@link Math#fma} is one instruction on
 * every x86-64 and AArch64 CPU with FMA, which is where the server runs.)
 */
final class RobustKernels {

    /**
     * Whether the Vector API forms run; the system property
     * {@code org.flserver.aggregation.vector=false} turns them off.
     */
    static final boolean VECTOR = Boolean.parseBoolean(System.getProperty("org.flserver.aggregation.vector", "true"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && vectorFormsAgree();

    private RobustKernels() {
    }

    static String description() {
        return VECTOR ? "Vector API (jdk.incubator.vector)" : "scalar loops";
    }

    private static boolean vectorFormsAgree() {
        try {
            return VectorRobustKernels.supported() && probeAgrees();
        } catch (LinkageError | RuntimeException e) {
            return false;
        }
    }

    /** Both forms on random data with ties, ±0, subnormals, extremes (and a NaN for the finiteness checks). */
    private static boolean probeAgrees() {
        int rows = 7;
        int n = 83; // several vectors of any width and a tail
        java.util.SplittableRandom r = new java.util.SplittableRandom(14);
        float[] special = {0.0f, -0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, -Float.MAX_VALUE,
                Float.MAX_VALUE, 1.0f, 1.0f, -3.5e-41f};
        float[][] x = new float[rows][n];
        for (float[] row : x) {
            for (int j = 0; j < n; j++) {
                row[j] = r.nextInt(4) == 0 ? special[r.nextInt(special.length)]
                        : Float.intBitsToFloat(r.nextInt() & 0xBF7FFFFF); // finite
            }
        }
        int[][] kv = new int[rows][n];
        int[][] ks = new int[rows][n];
        for (int c = 0; c < rows; c++) {
            if (!VectorRobustKernels.toKeys(x[c], kv[c], 0, n) || !scalarToKeys(x[c], ks[c], 0, n)) {
                return false;
            }
        }
        SortingNetwork net = SortingNetwork.sorting(rows, 0, rows - 1);
        VectorRobustKernels.sort(net, kv, 1, n);
        scalarSort(net, ks, 1, n);
        float[] fv = new float[n];
        float[] fs = new float[n];
        double[] av = new double[n];
        double[] as = new double[n];
        double[] dv = new double[n];
        double[] ds = new double[n];
        for (int c = 0; c < rows; c++) {
            if (!java.util.Arrays.equals(kv[c], ks[c])) {
                return false;
            }
            VectorRobustKernels.fromKeys(kv[c], fv, 0, n);
            scalarFromKeys(ks[c], fs, 0, n);
            VectorRobustKernels.addWidened(av, c == 0, fv, 1, n);
            scalarAddWidened(as, c == 0, fs, 1, n);
            if (VectorRobustKernels.countBelow(x[c], fv, 1, n) != scalarCountBelow(x[c], fs, 1, n)
                    || VectorRobustKernels.widen(x[c], dv, n) != scalarWiden(x[c], ds, n)
                    || Double.doubleToRawLongBits(VectorRobustKernels.squaredDistance(dv, as, 2, n))
                    != Double.doubleToRawLongBits(scalarSquaredDistance(ds, as, 2, n))) {
                return false;
            }
        }
        x[3][n - 20] = Float.NaN;
        x[4][n - 1] = Float.NEGATIVE_INFINITY;
        VectorRobustKernels.divide(fv, av, 7, 1, n);
        scalarDivide(fs, as, 7, 1, n);
        return java.util.Arrays.equals(av, as) && java.util.Arrays.equals(fv, fs) && !VectorRobustKernels.toKeys(x[3], kv[3], 0, n)
                && !VectorRobustKernels.toKeys(x[4], kv[4], 0, n) && !VectorRobustKernels.widen(x[3], dv, n)
                && !VectorRobustKernels.widen(x[4], dv, n);
    }

    // ---- dispatch ----

    /** k[j] = key of x[j] for j in [from, to); false when some x[j] is NaN or infinite. */
    static boolean toKeys(float[] x, int[] k, int from, int to) {
        return VECTOR ? VectorRobustKernels.toKeys(x, k, from, to) : scalarToKeys(x, k, from, to);
    }

    /** f[j] = the float of key k[j], j in [from, to). */
    static void fromKeys(int[] k, float[] f, int from, int to) {
        if (VECTOR) {
            VectorRobustKernels.fromKeys(k, f, from, to);
        } else {
            scalarFromKeys(k, f, from, to);
        }
    }

    /** Applies the network to columns [from, to) of the key rows. */
    static void sort(SortingNetwork net, int[][] keys, int from, int to) {
        if (VECTOR) {
            VectorRobustKernels.sort(net, keys, from, to);
        } else {
            scalarSort(net, keys, from, to);
        }
    }

    /** a[j] = (first ? 0.0 : a[j]) + (double) x[j], j in [from, to). */
    static void addWidened(double[] a, boolean first, float[] x, int from, int to) {
        if (VECTOR) {
            VectorRobustKernels.addWidened(a, first, x, from, to);
        } else {
            scalarAddWidened(a, first, x, from, to);
        }
    }

    /** f[j] = (float) (a[j] / count), j in [from, to). */
    static void divide(float[] f, double[] a, double count, int from, int to) {
        if (VECTOR) {
            VectorRobustKernels.divide(f, a, count, from, to);
        } else {
            scalarDivide(f, a, count, from, to);
        }
    }

    /** The number of j in [from, to) with x[j] &lt; lo[j] (as floats: -0.0 is not below 0.0). */
    static int countBelow(float[] x, float[] lo, int from, int to) {
        return VECTOR ? VectorRobustKernels.countBelow(x, lo, from, to) : scalarCountBelow(x, lo, from, to);
    }

    /** The number of j in [from, to) with x[j] &gt; hi[j]. */
    static int countAbove(float[] x, float[] hi, int from, int to) {
        return VECTOR ? VectorRobustKernels.countBelow(hi, x, from, to) : scalarCountBelow(hi, x, from, to);
    }

    /** d[j] = x[j] widened, j &lt; n; false when some x[j] is NaN or infinite. */
    static boolean widen(float[] x, double[] d, int n) {
        return VECTOR ? VectorRobustKernels.widen(x, d, n) : scalarWiden(x, d, n);
    }

    /** Krum's squared distance of rows a and b over [from, to), in the fixed order of the class comment. */
    static double squaredDistance(double[] a, double[] b, int from, int to) {
        return VECTOR ? VectorRobustKernels.squaredDistance(a, b, from, to) : scalarSquaredDistance(a, b, from, to);
    }

    /** partial[p] += squared distance of rows a &lt; b over [from, to), pairs row by row (upper triangle). */
    static void pairDistances(double[][] x, int rows, int from, int to, double[] partial) {
        if (VECTOR) {
            VectorRobustKernels.pairDistances(x, rows, from, to, partial);
        } else {
            int p = 0;
            for (int a = 0; a < rows; a++) {
                for (int b = a + 1; b < rows; b++) {
                    partial[p++] += scalarSquaredDistance(x[a], x[b], from, to);
                }
            }
        }
    }

    // ---- scalar forms ----

    static int key(float x) {
        int b = Float.floatToRawIntBits(x);
        return b ^ ((b >> 31) & 0x7fffffff);
    }

    static float fromKey(int k) {
        return Float.intBitsToFloat(k ^ ((k >> 31) & 0x7fffffff));
    }

    static boolean scalarToKeys(float[] x, int[] k, int from, int to) {
        int max = 0;
        for (int j = from; j < to; j++) {
            int b = Float.floatToRawIntBits(x[j]);
            max = Math.max(max, b & 0x7fffffff);
            k[j] = b ^ ((b >> 31) & 0x7fffffff);
        }
        return max < 0x7f800000;
    }

    static void scalarFromKeys(int[] k, float[] f, int from, int to) {
        for (int j = from; j < to; j++) {
            f[j] = fromKey(k[j]);
        }
    }

    static void scalarSort(SortingNetwork net, int[][] keys, int from, int to) {
        int[] lo = net.lo;
        int[] hi = net.hi;
        for (int i = 0; i < lo.length; i++) {
            int[] a = keys[lo[i]];
            int[] b = keys[hi[i]];
            for (int j = from; j < to; j++) {
                int x = a[j];
                int y = b[j];
                a[j] = Math.min(x, y);
                b[j] = Math.max(x, y);
            }
        }
    }

    static void scalarAddWidened(double[] a, boolean first, float[] x, int from, int to) {
        for (int j = from; j < to; j++) {
            a[j] = (first ? 0.0 : a[j]) + (double) x[j];
        }
    }

    static void scalarDivide(float[] f, double[] a, double count, int from, int to) {
        for (int j = from; j < to; j++) {
            f[j] = (float) (a[j] / count);
        }
    }

    static int scalarCountBelow(float[] x, float[] lo, int from, int to) {
        int count = 0;
        for (int j = from; j < to; j++) {
            count += x[j] < lo[j] ? 1 : 0;
        }
        return count;
    }

    static boolean scalarWiden(float[] x, double[] d, int n) {
        int max = 0;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, Float.floatToRawIntBits(x[j]) & 0x7fffffff);
            d[j] = x[j];
        }
        return max < 0x7f800000;
    }

    static double scalarSquaredDistance(double[] a, double[] b, int from, int to) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int j = from;
        for (; j + 8 <= to; j += 8) {
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
        return tail(s, a, b, j, to);
    }

    /** Adds components [j, to) (fewer than 8, j − from a multiple of 8) into s[0..] and sums s in the fixed tree. */
    static double tail(double[] s, double[] a, double[] b, int j, int to) {
        for (int i = 0; j < to; j++, i++) {
            double e = a[j] - b[j];
            s[i] = Math.fma(e, e, s[i]);
        }
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }
}
