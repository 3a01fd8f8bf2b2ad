package org.flserver.aggregation;

import java.util.HashMap;
import java.util.Map;

/**
 * Sums per-unit vectors (Krum's pairwise distances, DP's squared norms) in the order of the units,
 * whichever thread computed them and whenever it finished: a unit's partial waits until every
 * earlier unit's has been added. So the result's bits do not depend on thread timing, and Krum's
 * scores, its ties and its choice are the same in every run.
 */
final class OrderedSums {

    private final double[] total;
    private final int[] order;
    private final Map<Integer, double[]> pending = new HashMap<>();
    private int next;

    /**
     * @param length  the length of every partial vector
     * @param units   the indices of the units that will deliver a partial, ascending
     */
    OrderedSums(int length, int[] units) {
        this.total = new double[length];
        this.order = units;
    }

    /** Adds unit u's partial now or, if an earlier unit is still missing, as soon as it arrives. */
    synchronized void add(int u, double[] partial) {
        pending.put(u, partial);
        while (next < order.length && pending.containsKey(order[next])) {
            double[] p = pending.remove(order[next++]);
            for (int i = 0; i < total.length; i++) {
                total[i] += p[i];
            }
        }
    }

    /** The sums; only complete once every unit has delivered. */
    synchronized double[] total() {
        if (next != order.length) {
            throw new IllegalStateException("missing partial sums");
        }
        return total.clone();
    }
}
