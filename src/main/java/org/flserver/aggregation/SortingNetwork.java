package org.flserver.aggregation;

import java.util.ArrayList;
import java.util.List;

/**
 * A data-independent sorting network over N rows (Batcher's odd-even merge sort, built for the next
 * power of two with the comparators that touch rows beyond N dropped: those rows stand for +∞ and
 * never move), pruned to the comparators that can influence the rows a rule reads. Applied lane by
 * lane to the N clients' blocks, it gives the per-coordinate order statistics of the median and the
 * trimmed mean with min/max instructions and no branches ({@link RobustKernels}).
 *
 * <p>Batcher's first four levels sort aligned groups of 16 rows, each on its own; those levels are
 * kept as a list of {@link #groups} to sort (the vector form sorts a group in sixteen registers,
 * loading and storing each row once instead of once per comparator), followed by the remaining
 * comparators.
 */
final class SortingNetwork {

    /** Rows per group that {@link #groups} sorts at once (in registers, in the vector form). */
    static final int GROUP = 16;

    /** Batcher's network for {@link #GROUP} rows: comparator i orders rows GROUP_LO[i] &lt; GROUP_HI[i] of a group. */
    static final int[] GROUP_LO;
    static final int[] GROUP_HI;

    static {
        SortingNetwork g = build(GROUP, 0, GROUP - 1, false);
        GROUP_LO = g.lo;
        GROUP_HI = g.hi;
    }

    /**
     * The first rows of the groups of {@link #GROUP} rows that are sorted first (Batcher's first
     * levels sort exactly these aligned groups, before any comparator crosses them; a group is
     * listed when all its rows exist and the pruned network kept some of those levels' comparators
     * in it). Then the comparators lo/hi run.
     */
    final int[] groups;
    /**
     * Comparator i puts the smaller of rows lo[i], hi[i] into lo[i] and the larger into hi[i]; lo[i] &lt;
     * hi[i] in the sorts, either way round in {@link #trimBounds}.
     */
    final int[] lo;
    final int[] hi;
    final int rows;

    private SortingNetwork(int rows, int[] groups, int[] lo, int[] hi) {
        this.rows = rows;
        this.groups = groups;
        this.lo = lo;
        this.hi = hi;
    }

    /**
     * The network that leaves rows [from, to] of n rows as a full sort would (ascending), the others
     * in some order.
     */
    static SortingNetwork sorting(int n, int from, int to) {
        return build(n, from, to, true);
    }

    /**
     * Where the trimmed mean's two bounds lie after {@code network} ran over a tile: row {@code lowRow}
     * holds the (trim + 1)-th smallest value of each column, row {@code highRow} the (trim + 1)-th
     * largest. The other rows hold the remaining values in some order. {@code width} is the length
     * of the selection network's two lists (see {@link #trimBounds}), 0 when the network is a sort.
     */
    record Bounds(SortingNetwork network, int lowRow, int highRow, int width) {
    }

    /**
     * The network that finds only the trimmed mean's two bounds, the (t + 1)-th smallest and largest
     * of n rows (t = trim), which is all the trimmed mean needs ({@link RobustKernels#trimmedMeanTile}
     * clamps every value to them). For n &ge; 16 and t &lt; 8 it is a selection network, much smaller
     * than a sort: the aligned groups of 16 rows are sorted (in registers, as {@link #groups}); then the
     * m' smallest rows of the first group (m' = t + 1 rounded up to a power of two, at most 8) stay
     * the running list of the m' smallest, and each further group's m' smallest are merged into it by
     * Batcher's bitonic merge (the list against the group's rows reversed, the smaller values kept,
     * then a bitonic sorter), the same for the m' largest at the other end of the first group; the
     * rows beyond the last group are inserted into both lists one by one. Both lists fit in the first
     * group without overlapping, and with n &ge; 16 &ge; m' + t + 1 no value the high list needs can
     * have been taken into the low list. Otherwise it is the sort of rows [t, n - t - 1].
     * (For 50 rows and t = 5: 3 group sorts and 112 comparators instead of 3 group sorts and 207.)
     */
    static Bounds trimBounds(int n, int trim) {
        if (trim < 0 || 2 * trim >= n) {
            throw new IllegalArgumentException("trim " + trim + " of " + n);
        }
        int m = trim + 1;
        if (n < GROUP || m > GROUP / 2) {
            return new Bounds(sorting(n, trim, n - trim - 1), trim, n - trim - 1, 0);
        }
        int width = Integer.highestOneBit(m) == m ? m : Integer.highestOneBit(m) << 1;
        int full = n / GROUP;
        int highList = GROUP - width;
        List<int[]> comparators = new ArrayList<>();
        for (int g = 1; g < full; g++) {
            int base = g * GROUP;
            for (int i = 0; i < width; i++) {
                comparators.add(new int[] {i, base + width - 1 - i}); // smaller into the low list
            }
            bitonicSorter(comparators, 0, width);
            for (int i = 0; i < width; i++) {
                comparators.add(new int[] {base + GROUP - 1 - i, highList + i}); // larger into the high list
            }
            bitonicSorter(comparators, highList, width);
        }
        for (int x = full * GROUP; x < n; x++) {
            for (int i = 0; i < width; i++) {
                comparators.add(new int[] {i, x}); // insertion: the list keeps the smaller, x carries the larger on
            }
            for (int i = width - 1; i >= 0; i--) {
                comparators.add(new int[] {x, highList + i});
            }
        }
        int[] groups = new int[full];
        for (int g = 0; g < full; g++) {
            groups[g] = g * GROUP;
        }
        int[] lo = comparators.stream().mapToInt(c -> c[0]).toArray();
        int[] hi = comparators.stream().mapToInt(c -> c[1]).toArray();
        return new Bounds(new SortingNetwork(n, groups, lo, hi), m - 1, GROUP - m, width);
    }

    /** Sorts rows [from, from + width) ascending when they hold a bitonic sequence (width a power of two). */
    private static void bitonicSorter(List<int[]> comparators, int from, int width) {
        for (int s = width / 2; s >= 1; s /= 2) {
            for (int i = 0; i < width; i++) {
                if ((i & s) == 0) {
                    comparators.add(new int[] {from + i, from + i + s});
                }
            }
        }
    }

    private static SortingNetwork build(int n, int from, int to, boolean group) {
        if (n < 1 || from < 0 || to >= n || from > to) {
            throw new IllegalArgumentException("rows " + from + ".." + to + " of " + n);
        }
        List<int[]> all = new ArrayList<>();
        int p2 = 1;
        while (p2 < n) {
            p2 <<= 1;
        }
        for (int p = 1; p < p2; p <<= 1) {
            for (int k = p; k >= 1; k >>= 1) {
                for (int j = k % p; j + k < p2; j += 2 * k) {
                    for (int i = 0; i < Math.min(k, p2 - j - k); i++) {
                        int a = i + j;
                        int b = i + j + k;
                        if (a / (2 * p) == b / (2 * p) && b < n) {
                            all.add(new int[] {a, b, p});
                        }
                    }
                }
            }
        }
        // Backwards: keep a comparator when a row it writes is read later (or is an output).
        boolean[] needed = new boolean[n];
        for (int r = from; r <= to; r++) {
            needed[r] = true;
        }
        boolean[] keep = new boolean[all.size()];
        int kept = 0;
        for (int i = all.size() - 1; i >= 0; i--) {
            int[] c = all.get(i);
            if (needed[c[0]] || needed[c[1]]) {
                keep[i] = true;
                needed[c[0]] = true;
                needed[c[1]] = true;
                kept++;
            }
        }
        // Levels p < GROUP only compare rows within aligned groups of GROUP rows, and leave each group sorted.
        int full = group ? n / GROUP : 0;
        boolean[] grouped = new boolean[full];
        for (int i = 0; i < all.size(); i++) {
            int[] c = all.get(i);
            if (keep[i] && c[2] < GROUP && c[0] / GROUP < full) {
                grouped[c[0] / GROUP] = true;
            }
        }
        List<Integer> groups = new ArrayList<>();
        for (int g = 0; g < full; g++) {
            if (grouped[g]) {
                groups.add(g * GROUP);
            }
        }
        List<int[]> rest = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            int[] c = all.get(i);
            boolean inGroup = c[2] < GROUP && c[0] / GROUP < full && grouped[c[0] / GROUP];
            if (keep[i] && !inGroup) {
                rest.add(c);
            }
        }
        int[] lo = new int[rest.size()];
        int[] hi = new int[rest.size()];
        for (int i = 0; i < rest.size(); i++) {
            lo[i] = rest.get(i)[0];
            hi[i] = rest.get(i)[1];
        }
        return new SortingNetwork(n, groups.stream().mapToInt(Integer::intValue).toArray(), lo, hi);
    }

    /** The groups' first rows as offsets into a tile of rows {@code stride} elements apart. */
    int[] groups(int stride) {
        return scaled(groups, stride);
    }

    /** The comparators' smaller rows as offsets into a tile of rows {@code stride} elements apart. */
    int[] lo(int stride) {
        return scaled(lo, stride);
    }

    /** The comparators' larger rows as offsets into a tile of rows {@code stride} elements apart. */
    int[] hi(int stride) {
        return scaled(hi, stride);
    }

    private static int[] scaled(int[] rows, int stride) {
        int[] offsets = new int[rows.length];
        for (int i = 0; i < rows.length; i++) {
            offsets[i] = rows[i] * stride;
        }
        return offsets;
    }

    /** Compare-exchanges per column, those of the group sorts included. */
    int size() {
        return groups.length * GROUP_LO.length + lo.length;
    }
}
