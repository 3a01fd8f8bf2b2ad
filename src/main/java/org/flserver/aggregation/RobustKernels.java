package org.flserver.aggregation;

/**
 * The inner loops of the coordinate-wise robust rules (median, trimmed mean) on float32 blocks:
 * float ↔ sortable-int keys, the compare-exchanges of a {@link SortingNetwork}, the trimmed mean's
 * sums and its trim counts, and the widening of float32 slices to double for the other passes.
 * Each has a scalar form here and a Vector API form in {@link VectorRobustKernels} that gives the
 * same bits; the vector forms run when {@link #VECTOR} is true (like {@link Float32Kernels#VECTOR}:
 * the incubator module is in the boot layer, the machine's vectors are wide enough, and a probe
 * agreed with the scalar forms). Krum's distances are {@link PairwiseDistances}.
 *
 * <p>Keys: a finite float's bits {@code b} map to {@code b ^ ((b >> 31) & 0x7fffffff)}, an int whose
 * signed order is the floats' order with -0.0 just below 0.0 (as {@link Double#compare}); the map is
 * its own inverse. Sorting keys with integer min/max is one instruction per compare and the same
 * total order on every path; ±0 ties cannot change a sum or the mean of two middle values.
 */
final class RobustKernels {

    /**
     * Whether the Vector API forms run; the system property
     * {@code org.flserver.aggregation.vector=false} turns them off.
     */
    static final boolean VECTOR = Boolean.parseBoolean(System.getProperty("org.flserver.aggregation.vector", "true"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && vectorFormsAgree();

    /**
     * Columns per tile of the coordinate-wise rules: the N rows of keys of a tile (N × 512 bytes)
     * stay in the core's L1 cache for N up to about 80 while the network runs over them; a multiple
     * of eight vectors of every width the vector forms accept.
     */
    static final int TILE = 128;

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
        int n = TILE + 11; // a tile, then several vectors of any width and a tail
        java.util.SplittableRandom r = new java.util.SplittableRandom(14);
        float[] special = {0.0f, -0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, -Float.MAX_VALUE,
                Float.MAX_VALUE, 1.0f, 1.0f, -3.5e-41f};
        float[][] x = new float[33][n]; // up to 33 rows: networks with a group, and with two groups and a row more
        for (float[] row : x) {
            for (int j = 0; j < n; j++) {
                row[j] = r.nextInt(4) == 0 ? special[r.nextInt(special.length)]
                        : Float.intBitsToFloat(r.nextInt() & 0xBF7FFFFF); // finite
            }
        }
        double[] dv = new double[n];
        double[] ds = new double[n];
        for (int c = 0; c < rows; c++) {
            if (VectorRobustKernels.widen(x[c], dv, n) != scalarWiden(x[c], ds, n) || !java.util.Arrays.equals(dv, ds)) {
                return false;
            }
        }
        if (!tilesAgree(x, rows) || !tilesAgree(x, 6) || !tilesAgree(x, 17) || !tilesAgree(x, 33)) { // odd and even N, groups
            return false;
        }
        x[3][n - 20] = Float.NaN;
        x[4][n - 1] = Float.NEGATIVE_INFINITY;
        return !VectorRobustKernels.widen(x[3], dv, n) && !VectorRobustKernels.widen(x[4], dv, n)
                && !VectorRobustKernels.keysTile(x, rows, 0, new int[rows * TILE])
                && !VectorRobustKernels.keysTile(new float[][] {x[4]}, 1, n - TILE, new int[TILE]);
    }

    /**
     * The tile kernels of both forms on the first {@link #TILE} columns of the rows: the same keys,
     * the same sorted middle rows and medians, the same bounds (for 17 and 33 rows, trims 4 and 7:
     * the register form of the selection network, with a merge for 33), trimmed means and counts.
     */
    private static boolean tilesAgree(float[][] x, int rows) {
        int[] kv = new int[rows * TILE];
        int[] ks = new int[rows * TILE];
        if (!VectorRobustKernels.keysTile(x, rows, 0, kv) || !scalarKeysTile(x, rows, 0, ks)
                || !java.util.Arrays.equals(kv, ks)) {
            return false;
        }
        SortingNetwork middle = SortingNetwork.sorting(rows, (rows - 1) / 2, rows / 2);
        VectorRobustKernels.sortTile(kv, middle.groups(TILE), middle.lo(TILE), middle.hi(TILE));
        scalarSortTile(ks, middle.groups(TILE), middle.lo(TILE), middle.hi(TILE));
        float[] gv = new float[TILE + 5];
        float[] gs = new float[TILE + 5];
        VectorRobustKernels.medianTile(kv, rows, gv, 3, new float[kv.length]);
        scalarMedianTile(ks, rows, gs, 3);
        if (!java.util.Arrays.equals(kv, ks) || !java.util.Arrays.equals(gv, gs)) {
            return false;
        }
        VectorRobustKernels.keysTile(x, rows, 0, kv);
        scalarKeysTile(x, rows, 0, ks);
        int trim = Math.min((rows - 1) / 4, 7);
        SortingNetwork.Bounds bounds = SortingNetwork.trimBounds(rows, trim);
        SortingNetwork net = bounds.network();
        if (bounds.width() == 8) {
            VectorRobustKernels.trimBounds8(kv, net.groups(TILE), rows);
        } else {
            VectorRobustKernels.sortTile(kv, net.groups(TILE), net.lo(TILE), net.hi(TILE));
        }
        scalarSortTile(ks, net.groups(TILE), net.lo(TILE), net.hi(TILE));
        float[] fv = new float[TILE + 5];
        float[] fs = new float[TILE + 5];
        long[] lowV = new long[rows];
        long[] lowS = new long[rows];
        long[] highV = new long[rows];
        long[] highS = new long[rows];
        float[] lanes = new float[rows * VectorRobustKernels.countLanes()];
        VectorRobustKernels.trimmedMeanTile(x, rows, 0, kv, bounds.lowRow(), bounds.highRow(), trim, fv, 5, lanes,
                new float[kv.length + 2 * TILE], new double[TILE]);
        VectorRobustKernels.flushCounts(lanes, rows, lowV, highV);
        scalarTrimmedMeanTile(x, rows, 0, ks, bounds.lowRow(), bounds.highRow(), trim, fs, 5, lowS, highS);
        return java.util.Arrays.equals(fv, fs) && java.util.Arrays.equals(lowV, lowS) && java.util.Arrays.equals(highV, highS);
    }

    // ---- dispatch ----

    /**
     * Keys of columns [from, from + {@link #TILE}) of rows x[0, rows) into the tile k (row r at
     * k[r × TILE]); false when one of those values is NaN or infinite.
     */
    static boolean keysTile(float[][] x, int rows, int from, int[] k) {
        return VECTOR ? VectorRobustKernels.keysTile(x, rows, from, k) : scalarKeysTile(x, rows, from, k);
    }

    /**
     * Applies a network to every column of the tile: sorts its groups (their first rows' offsets in
     * the tile), then runs its comparators (row offsets lo[i] &lt; hi[i]), see {@link SortingNetwork}.
     */
    static void sortTile(int[] k, int[] groups, int[] lo, int[] hi) {
        if (VECTOR) {
            VectorRobustKernels.sortTile(k, groups, lo, hi);
        } else {
            scalarSortTile(k, groups, lo, hi);
        }
    }

    /**
     * Runs a {@link SortingNetwork#trimBounds} network over the tile (its groups' and comparators'
     * offsets in it given), leaving the bounds in its rows {@code bounds.lowRow()} and
     * {@code bounds.highRow()}; other rows may differ between the forms.
     */
    static void boundsTile(int[] k, SortingNetwork.Bounds bounds, int[] groups, int[] lo, int[] hi) {
        if (VECTOR && bounds.width() == 8) {
            VectorRobustKernels.trimBounds8(k, groups, bounds.network().rows);
        } else {
            sortTile(k, groups, lo, hi);
        }
    }

    /**
     * The trimmed mean of columns [from, from + {@link #TILE}) of the rows x[0, rows), trim values
     * dropped at each end, given the keys k of the same columns after a {@link SortingNetwork#trimBounds}
     * network left the bounds in rows lowRow (the (trim + 1)-th smallest value, L) and highRow (the
     * (trim + 1)-th largest, H): out[at + j] = (float) ((S - trim·L - trim·H) / (rows - 2·trim)) in
     * double, where S adds every client's value clamped to [L, H] in client order from 0.0. The trim
     * values below L each count as L in S and the trim above H as H, whatever the ties, so S -
     * trim·L - trim·H is the sum of the kept values; clamped, no dropped value (an attacker's 1e30,
     * say) ever enters the sum. low[c] += the columns where x[c] &lt; L, high[c] += those where x[c] &gt;
     * H (compared as floats: -0.0 is not below 0.0), at once or at the next {@link #flushTrimCounts}
     * (lanes: rows × {@link #trimCountLanes()} floats). scratch holds (rows + 2) × {@link #TILE}
     * floats, sums {@link #TILE} doubles.
     */
    static void trimmedMeanTile(float[][] x, int rows, int from, int[] k, int lowRow, int highRow, int trim, float[] out,
            int at, long[] low, long[] high, float[] lanes, float[] scratch, double[] sums) {
        if (VECTOR) {
            VectorRobustKernels.trimmedMeanTile(x, rows, from, k, lowRow, highRow, trim, out, at, lanes, scratch, sums);
        } else {
            scalarTrimmedMeanTile(x, rows, from, k, lowRow, highRow, trim, out, at, low, high);
        }
    }

    /**
     * The floats {@link #trimmedMeanTile} needs in {@code lanes} per client (the vector form counts
     * there per lane, zeroes to start with, and adds the counts to low and high only in
     * {@link #flushTrimCounts}); 0 for the scalar form.
     */
    static int trimCountLanes() {
        return VECTOR ? VectorRobustKernels.countLanes() : 0;
    }

    /**
     * Adds what {@link #trimmedMeanTile} counted per lane since the last flush to low and high (at
     * least every 2^21 tiles, so that the float lanes stay exact); nothing to do in the scalar form.
     */
    static void flushTrimCounts(float[] lanes, int rows, long[] low, long[] high) {
        if (VECTOR) {
            VectorRobustKernels.flushCounts(lanes, rows, low, high);
        }
    }

    /**
     * out[at + j] = the median of column j of a tile of {@code rows} rows sorted at the middle: the
     * middle row, or the mean of the two middle rows in double rounded once, j &lt; {@link #TILE};
     * scratch holds as many floats as the tile has keys.
     */
    static void medianTile(int[] k, int rows, float[] out, int at, float[] scratch) {
        if (VECTOR) {
            VectorRobustKernels.medianTile(k, rows, out, at, scratch);
        } else {
            scalarMedianTile(k, rows, out, at);
        }
    }

    /** d[j] = x[j] widened, j &lt; n; false when some x[j] is NaN or infinite. */
    static boolean widen(float[] x, double[] d, int n) {
        return VECTOR ? VectorRobustKernels.widen(x, d, n) : scalarWiden(x, d, n);
    }

    // ---- scalar forms ----

    static int key(float x) {
        int b = Float.floatToRawIntBits(x);
        return b ^ ((b >> 31) & 0x7fffffff);
    }

    static float fromKey(int k) {
        return Float.intBitsToFloat(k ^ ((k >> 31) & 0x7fffffff));
    }

    static boolean scalarKeysTile(float[][] x, int rows, int from, int[] k) {
        int max = 0;
        for (int c = 0; c < rows; c++) {
            float[] xc = x[c];
            int base = c * TILE;
            for (int j = 0; j < TILE; j++) {
                int b = Float.floatToRawIntBits(xc[from + j]);
                max = Math.max(max, b & 0x7fffffff);
                k[base + j] = b ^ ((b >> 31) & 0x7fffffff);
            }
        }
        return max < 0x7f800000;
    }

    static void scalarSortTile(int[] k, int[] groups, int[] lo, int[] hi) {
        for (int g : groups) {
            for (int i = 0; i < SortingNetwork.GROUP_LO.length; i++) {
                int a = g + SortingNetwork.GROUP_LO[i] * TILE;
                int b = g + SortingNetwork.GROUP_HI[i] * TILE;
                for (int j = 0; j < TILE; j++) {
                    int x = k[a + j];
                    int y = k[b + j];
                    k[a + j] = Math.min(x, y);
                    k[b + j] = Math.max(x, y);
                }
            }
        }
        for (int i = 0; i < lo.length; i++) {
            int a = lo[i];
            int b = hi[i];
            for (int j = 0; j < TILE; j++) {
                int x = k[a + j];
                int y = k[b + j];
                k[a + j] = Math.min(x, y);
                k[b + j] = Math.max(x, y);
            }
        }
    }

    static void scalarTrimmedMeanTile(float[][] x, int rows, int from, int[] k, int lowRow, int highRow, int trim,
            float[] out, int at, long[] low, long[] high) {
        double t = trim;
        double count = rows - 2 * trim;
        for (int j = 0; j < TILE; j++) {
            float lo = fromKey(k[lowRow * TILE + j]);
            float hi = fromKey(k[highRow * TILE + j]);
            double sum = 0.0;
            for (int c = 0; c < rows; c++) {
                float y = x[c][from + j];
                if (y < lo) {
                    low[c]++;
                    y = lo;
                } else if (y > hi) {
                    high[c]++;
                    y = hi;
                }
                sum += y;
            }
            out[at + j] = (float) ((sum - t * lo - t * hi) / count);
        }
    }

    static void scalarMedianTile(int[] k, int rows, float[] out, int at) {
        int h = rows >> 1;
        for (int j = 0; j < TILE; j++) {
            out[at + j] = (rows & 1) == 1 ? fromKey(k[h * TILE + j])
                    : (float) (((double) fromKey(k[(h - 1) * TILE + j]) + fromKey(k[h * TILE + j])) / 2);
        }
    }

    static boolean scalarWiden(float[] x, double[] d, int n) {
        int max = 0;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, Float.floatToRawIntBits(x[j]) & 0x7fffffff);
            d[j] = x[j];
        }
        return max < 0x7f800000;
    }
}
