package org.flserver.aggregation;

import java.util.ArrayList;
import java.util.List;

/**
 * A data-independent sorting network over N rows (Batcher's odd-even merge sort, built for the next
 * power of two with the comparators that touch rows beyond N dropped: those rows stand for +∞ and
 * never move), pruned to the comparators that can influence the rows a rule reads. Applied lane by
 * lane to the N clients' blocks, it gives the per-coordinate order statistics of the median and the
 * trimmed mean with min/max instructions and no branches ({@link RobustKernels}).
 */
final class SortingNetwork {

    /** Comparator i puts the smaller of rows lo[i], hi[i] into lo[i] and the larger into hi[i]; lo[i] &lt; hi[i]. */
    final int[] lo;
    final int[] hi;
    final int rows;

    private SortingNetwork(int rows, int[] lo, int[] hi) {
        this.rows = rows;
        this.lo = lo;
        this.hi = hi;
    }

    /**
     * The network that leaves rows [from, to] of n rows as a full sort would (ascending), the others
     * in some order.
     */
    static SortingNetwork sorting(int n, int from, int to) {
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
                            all.add(new int[] {a, b});
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
        int[] lo = new int[kept];
        int[] hi = new int[kept];
        int k = 0;
        for (int i = 0; i < all.size(); i++) {
            if (keep[i]) {
                lo[k] = all.get(i)[0];
                hi[k] = all.get(i)[1];
                k++;
            }
        }
        return new SortingNetwork(n, lo, hi);
    }

    int size() {
        return lo.length;
    }
}
