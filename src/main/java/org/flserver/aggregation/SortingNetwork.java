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
    /** Comparator i puts the smaller of rows lo[i], hi[i] into lo[i] and the larger into hi[i]; lo[i] &lt; hi[i]. */
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
