package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.util.Arrays;

/**
 * The coordinate-wise robust rules on floating-point storages: per component, the N clients'
 * values (unweighted, as in Flower) are ordered and reduced to their median (the mean of the two
 * middle values in double for even N, like {@code np.median}) or their trimmed mean (the ⌊βN⌋
 * lowest and highest dropped, the rest summed in double precision and divided by N − 2⌊βN⌋). The
 * result is rounded once to the storage's dtype.
 *
 * <p>float32 storages (the common case, and the benchmark's) go through {@link RobustKernels}, one
 * tile of {@link RobustKernels#TILE} columns at a time: the N clients' values of the tile become N
 * rows of sortable int keys in one flat buffer (checked finite on the way), and a comparator
 * network orders every column at once with lane-wise integer min/max (the tile's N × 512 bytes
 * stay in the core's L1 cache through the whole network). For the median it is a
 * {@link SortingNetwork} pruned to the middle rows, and the result is read off them. For the
 * trimmed mean it only finds the two bounds, the (⌊βN⌋ + 1)-th smallest and largest value L and H
 * ({@link SortingNetwork#trimBounds}, a selection network far smaller than a sort); then every
 * client's value is clamped to [L, H], the clamped values are summed in client order, and ⌊βN⌋·L
 * and ⌊βN⌋·H are taken off, which leaves the sum of the kept values (exactly so in real
 * arithmetic, ties included; in double the rounding errors stay of the size of the kept values,
 * since no dropped value, however large, enters the sum: {@link RobustKernels#trimmedMeanTile}). No
 * branch depends on a value. The keys order -0.0 before 0.0; neither the sums nor the mean of two
 * middle values can tell, and a median of ±0 is zero either way. Other floating dtypes are
 * widened to double and sorted per coordinate, the kept values summed in ascending order
 * ({@link FloatBlocks}, {@link #sort}, {@link #median}).
 *
 * <p>Memory per thread: the N clients' slices of one block as floats (N × block × 4 bytes) and one
 * tile of keys, or the slices as doubles for the other dtypes. For the trimmed mean it also counts, per client, the
 * components where the client's value lay strictly below or above every kept value (compared as
 * floats, so whatever the order of ties).
 */
final class CoordinateFold extends FoldKernel {

    private final FedAvgPlan plan;
    private final boolean median;
    private final int trim;
    private final int clients;
    /** The other floating dtypes: per coordinate in double (made on first use). */
    private FloatBlocks blocks;
    private double[] col;
    private double[] result;
    /**
     * Float32: the clients' slices (padded to whole tiles), one tile of keys (and of their floats, and
     * the trimmed mean's per-column sums), the network's row offsets in it (groups, comparators), the
     * result.
     */
    private final float[][] xf;
    private final int[] tileKeys;
    private final float[] tileFloats;
    private final double[] tileSums;
    private final int[] groups;
    private final int[] lo;
    private final int[] hi;
    private final float[] row;
    /** The trimmed mean's network and the rows of the tile where it leaves the two bounds; null for the median. */
    private final SortingNetwork.Bounds bounds;
    /** Per client: components trimmed low / high (this thread's share). */
    final long[] trimmedLow;
    final long[] trimmedHigh;
    /** The float32 kernels' counts per lane until the end of each unit ({@link RobustKernels#flushTrimCounts}). */
    private final float[] trimLanes;

    CoordinateFold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite, boolean median, int trim) {
        super(plan, slices, rewrite);
        this.plan = plan;
        this.median = median;
        this.trim = trim;
        int n = plan.files.size();
        this.clients = n;
        trimmedLow = new long[n];
        trimmedHigh = new long[n];
        trimLanes = new float[n * RobustKernels.trimCountLanes()];
        int padded = padded(block);
        xf = new float[n][padded];
        tileKeys = new int[n * RobustKernels.TILE];
        tileFloats = new float[(n + 2) * RobustKernels.TILE];
        tileSums = new double[RobustKernels.TILE];
        int h = n >> 1;
        bounds = median ? null : SortingNetwork.trimBounds(n, trim);
        SortingNetwork network = median ? SortingNetwork.sorting(n, (n & 1) == 1 ? h : h - 1, h) : bounds.network();
        groups = network.groups(RobustKernels.TILE);
        lo = network.lo(RobustKernels.TILE);
        hi = network.hi(RobustKernels.TILE);
        row = new float[padded];
    }

    /** n rounded up to whole tiles. */
    private static int padded(int n) {
        return (n + RobustKernels.TILE - 1) / RobustKernels.TILE * RobustKernels.TILE;
    }

    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        DType t = FedAvgPlan.componentType(target.dtype());
        if (t != DType.FLOAT32) {
            return unitInDouble(target, t, s, start, n);
        }
        int padded = padded(n);
        for (int c = 0; c < clients; c++) {
            slices.read(c, s, start, n, 4).asFloatBuffer().get(xf[c], 0, n);
            Arrays.fill(xf[c], n, padded, 0.0f); // finite, and never counted as trimmed (all rows equal)
        }
        // Tile by tile, so that the network's passes over the N rows of keys stay in the core's L1 cache.
        for (int t0 = 0; t0 < padded; t0 += RobustKernels.TILE) {
            if (!RobustKernels.keysTile(xf, clients, t0, tileKeys)) {
                throw firstNonFinite(s, start, n);
            }
            if (median) {
                RobustKernels.sortTile(tileKeys, groups, lo, hi);
                RobustKernels.medianTile(tileKeys, clients, row, t0, tileFloats);
            } else {
                RobustKernels.boundsTile(tileKeys, bounds, groups, lo, hi);
                RobustKernels.trimmedMeanTile(xf, clients, t0, tileKeys, bounds.lowRow(), bounds.highRow(), trim, row, t0,
                        trimmedLow, trimmedHigh, trimLanes, tileFloats, tileSums);
            }
        }
        if (!median) {
            RobustKernels.flushTrimCounts(trimLanes, clients, trimmedLow, trimmedHigh);
        }
        out.clear().order(target.byteOrder());
        out.asFloatBuffer().put(row, 0, n);
        out.position(n * 4);
        return writeBlock(target, start * 4);
    }

    /** The refusal of the first non-finite value of the block, clients in order (as {@link FloatBlocks#load}). */
    private NonFiniteUpdateException firstNonFinite(int s, long start, int n) {
        for (int c = 0; c < clients; c++) {
            for (int j = 0; j < n; j++) {
                if (!Float.isFinite(xf[c][j])) {
                    return FloatBlocks.nonFinite(plan.files.get(c), plan.clientStorages[s][c], start + j, xf[c][j]);
                }
            }
        }
        throw new IllegalStateException("no non-finite value in the block");
    }

    /** float64, float16 and bfloat16 storages: per coordinate in double, as the class comment says. */
    private int unitInDouble(StorageInfo target, DType t, int s, long start, int n) throws IOException {
        if (blocks == null) {
            blocks = new FloatBlocks(plan, slices);
            col = new double[clients];
            result = new double[block];
        }
        double[][] x = blocks.load(s, start, n);
        int clients = x.length;
        double[] v = col;
        for (int j = 0; j < n; j++) {
            for (int c = 0; c < clients; c++) {
                v[c] = x[c][j];
            }
            if (median) {
                result[j] = median(v, clients);
            } else {
                sort(v, clients);
                double sum = 0;
                for (int k = trim; k < clients - trim; k++) {
                    sum += v[k];
                }
                result[j] = sum / (clients - 2 * trim);
                if (trim > 0) {
                    double lo = v[trim];
                    double hi = v[clients - trim - 1];
                    for (int c = 0; c < clients; c++) {
                        double y = x[c][j];
                        if (y < lo) {
                            trimmedLow[c]++;
                        } else if (y > hi) {
                            trimmedHigh[c]++;
                        }
                    }
                }
            }
        }
        out.clear().order(target.byteOrder());
        blocks.store(out, t, result, n);
        return writeBlock(target, start * t.size());
    }

    /**
     * The median of v[0, n) (reordering v): the middle value for odd n, the mean of the two middle
     * values for even n. Small n are sorted; larger ones use a selection (expected O(n) instead of
     * the sort's O(n²) insertions): the order statistics, and so the result, are the same.
     */
    static double median(double[] v, int n) {
        int h = n >> 1;
        if (n <= 16) {
            sort(v, n);
            return (n & 1) == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
        }
        double upper = select(v, n, h);
        if ((n & 1) == 1) {
            return upper;
        }
        double lower = v[0]; // the largest of v[0, h), all <= v[h] after the selection
        for (int i = 1; i < h; i++) {
            lower = Math.max(lower, v[i]);
        }
        return (lower + upper) / 2;
    }

    /**
     * The k-th smallest of v[0, n) (k from 0), leaving v[0, k) &lt;= v[k] &lt;= v[k + 1, n):
     * quickselect with a median-of-three pivot and Hoare partitioning, insertion sort below 16.
     */
    static double select(double[] v, int n, int k) {
        int lo = 0;
        int hi = n; // exclusive
        while (hi - lo > 16) {
            int mid = (lo + hi - 1) >>> 1;
            double a = v[lo];
            double b = v[mid];
            double c = v[hi - 1];
            double p = a < b ? (b < c ? b : Math.max(a, c)) : (a < c ? a : Math.max(b, c));
            int i = lo;
            int j = hi - 1;
            while (i <= j) {
                while (v[i] < p) {
                    i++;
                }
                while (v[j] > p) {
                    j--;
                }
                if (i <= j) {
                    double t = v[i];
                    v[i] = v[j];
                    v[j] = t;
                    i++;
                    j--;
                }
            }
            if (k <= j) {
                hi = j + 1;
            } else if (k >= i) {
                lo = i;
            } else {
                return v[k]; // between the two parts: equal to the pivot
            }
        }
        for (int i = lo + 1; i < hi; i++) {
            double y = v[i];
            int m = i - 1;
            while (m >= lo && v[m] > y) {
                v[m + 1] = v[m];
                m--;
            }
            v[m + 1] = y;
        }
        return v[k];
    }

    /**
     * Sorts v[0, n) ascending: insertion sort for the small N of most rounds (no allocation, few
     * branches), the JDK's sort beyond. Values are finite ({@link FloatBlocks} refuses others), so
     * -0.0 and 0.0 are the only equal values with different bits, and either order gives the same
     * sums and the same median up to the sign of a zero.
     */
    static void sort(double[] v, int n) {
        if (n > 24) {
            Arrays.sort(v, 0, n);
            return;
        }
        for (int i = 1; i < n; i++) {
            double y = v[i];
            int k = i - 1;
            while (k >= 0 && v[k] > y) {
                v[k + 1] = v[k];
                k--;
            }
            v[k + 1] = y;
        }
    }
}
