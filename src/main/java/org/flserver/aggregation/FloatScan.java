package org.flserver.aggregation;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A read-only pass over the floating-point storages of every client of a {@link FedAvgPlan}: the
 * plan's units of floating storages are shared among threads, each of which loads every client's
 * slice as doubles ({@link FloatBlocks}, which refuses NaN and infinities) and hands the block to
 * its own {@link Visitor}; the caller merges the visitors afterwards. This is the first pass of Krum
 * (pairwise distances) and of DP-FedAvg (the norms of the updates' deltas), and the check that
 * names the client file behind a non-finite mean.
 */
final class FloatScan {

    /** What one thread does with each block; one instance per thread. */
    interface Visitor {
        /**
         * @param u     unit index in the plan
         * @param s     storage index in the template
         * @param start first component of the block in the storage
         * @param n     components in the block
         * @param x     x[c][0..n): client c's components as doubles, all finite
         */
        void block(int u, int s, long start, int n, double[][] x) throws IOException;
    }

    private FloatScan() {
    }

    /** The indices of the plan's units that belong to floating-point storages, ascending. */
    static int[] floatUnits(FedAvgPlan plan) {
        return java.util.stream.IntStream.range(0, plan.unitStorage.length)
                .filter(u -> isFloat(plan, plan.unitStorage[u])).toArray();
    }

    static boolean isFloat(FedAvgPlan plan, int s) {
        return FedAvgPlan.componentType(plan.template.storages().get(s).dtype()).isFloatingPoint();
    }

    /** Runs the pass on {@code threads} threads and returns their visitors (each saw a disjoint set of blocks). */
    static <V extends Visitor> List<V> run(FedAvgPlan plan, int threads, Supplier<V> visitors) throws IOException {
        AtomicInteger next = new AtomicInteger();
        List<V> made = new ArrayList<>();
        List<WorkerThreads.Share> shares = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            V visitor = visitors.get();
            made.add(visitor);
            shares.add(failed -> {
                FloatBlocks blocks = new FloatBlocks(plan, new ClientSlices(plan));
                for (int u = next.getAndIncrement(); u < plan.unitStorage.length && !failed.getAsBoolean();
                     u = next.getAndIncrement()) {
                    int s = plan.unitStorage[u];
                    if (isFloat(plan, s)) {
                        visitor.block(u, s, plan.unitStart[u], plan.unitCount[u],
                                blocks.load(s, plan.unitStart[u], plan.unitCount[u]));
                    }
                }
            });
        }
        WorkerThreads.run("float-scan", shares);
        return made;
    }
}
