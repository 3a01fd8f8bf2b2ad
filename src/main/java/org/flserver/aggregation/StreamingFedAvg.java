package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.IncompatibleWeightsException;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Weighted federated averaging over N weight files of one architecture, streaming: memory is a few
 * block-sized buffers per thread, never N models, and each client file is read exactly once.
 *
 * <p>The average is taken per storage, element by element over the whole storage (so tied weights
 * and overlapping views are averaged once), and written into a copy of the server's template with
 * {@link TemplateRewrite}. Rounding rule (the fixtures' {@code expected.*} files follow it bit for
 * bit): float storages accumulate {@code acc += (double) x_i * w_i} from {@code acc = 0.0} in client
 * order and store {@code acc / W} rounded once to the storage dtype (float16/bfloat16 via float32,
 * to nearest even); integer storages use exact integer arithmetic {@code trunc(Σ w_i x_i / W)} when
 * every weight is an integer (falling back to {@link java.math.BigInteger} on overflow), else the same in
 * double precision; bool storages are true where any client with weight > 0 is true.
 *
 * <p>How it is fast (figures: README, "Weight files, aggregation and benchmarks"): the storages
 * are cut into cache-sized blocks; for each block every client's slice is folded into one reused {@code double[]} accumulator, and the block is
 * written once. Two threads take disjoint units of work. Float32 storages (the common case) take a
 * specialised path: clients are folded four per pass over the accumulator, and the client files are
 * read through memory mappings of a bounded window per client (at most about min(half the model,
 * 128 MiB) mapped at any time, released at once with {@link Unmapper}), which spares the kernel's copy
 * of every byte into a read buffer. When the windows would get too small (very many clients) or
 * mappings cannot be released deterministically, each client's slice is read with a positional read
 * into a reused buffer instead. The loops themselves are the JDK's Vector API ones where the JVM runs
 * with {@code --add-modules=jdk.incubator.vector} (each slice is then copied into a reused
 * {@code float[]} first), else scalar loops reading the buffers directly; both give the same bits
 * ({@link Float32Kernels#VECTOR}). The other dtypes are read with positional reads and copied into
 * reused primitive arrays.
 *
 * <p>The parts: {@link FedAvgPlan} decides the work (weights, fast storages, mapping windows, units),
 * {@link ClientSlices} reads the clients' slices, {@link Float32Fold}, {@link FloatFold},
 * {@link IntegerFold} and {@link BoolFold} fold them per kind of storage; this class checks the
 * inputs and runs the units on its threads.
 */
public final class StreamingFedAvg {

    /** Elements per block: 32K float32 = 128 KiB per client slice, accumulator 256 KiB, fits L2. */
    public static final int DEFAULT_BLOCK = 1 << 15;

    private final int threads;
    private final int block;
    private final PicklePolicy policy;
    private final boolean mapping;
    private final boolean vector;

    /** Two threads (or one on a single CPU), default block, standard pickle allow-list. */
    public StreamingFedAvg() {
        this(Math.min(2, Runtime.getRuntime().availableProcessors()), DEFAULT_BLOCK, PicklePolicy.standard());
    }

    public StreamingFedAvg(int threads, int blockElements, PicklePolicy policy) {
        this(threads, blockElements, policy, true);
    }

    /** As above; {@code mapping == false} forces positional reads everywhere (for tests). */
    StreamingFedAvg(int threads, int blockElements, PicklePolicy policy, boolean mapping) {
        this(threads, blockElements, policy, mapping, true);
    }

    /**
     * As above; {@code vector == false} keeps the scalar float32 loops even where the Vector API
     * loops are available (for tests and benchmarks that compare both).
     */
    StreamingFedAvg(int threads, int blockElements, PicklePolicy policy, boolean mapping, boolean vector) {
        if (threads < 1 || blockElements < 1 || blockElements > (1 << 24)) {
            throw new IllegalArgumentException("threads >= 1 and 1 <= blockElements <= 2^24");
        }
        this.threads = threads;
        this.block = blockElements;
        this.policy = policy;
        this.mapping = mapping;
        this.vector = vector && Float32Kernels.VECTOR;
    }

    /** What folds float32 storages in this JVM: {@code "Vector API (jdk.incubator.vector)"} or {@code "scalar loops"}. */
    public static String float32Kernels() {
        return Float32Kernels.description();
    }

    /** What an aggregation did. */
    public record Result(Path out, FormatKind kind, int clients, double totalWeight, long clientBytesRead) {
    }

    /**
     * Averages {@code clients} into {@code out}, a rewritten copy of {@code template}.
     *
     * @throws IllegalArgumentException      when there are no clients or the total weight is zero
     * @throws IncompatibleWeightsException  when a client's kind or architecture differs from the template
     * @throws WeightFileException           when any file is refused by the reader
     */
    public Result aggregate(List<WeightedFile> clients, Path template, Path out) throws IOException {
        return aggregate(clients, template, out, null);
    }

    /**
     * Makes the fold of one thread for floating-point storages in place of the mean's folds; the
     * integer and bool storages keep the mean's. Used by {@link RobustAggregation} for the
     * coordinate-wise rules (median, trimmed mean) and central DP, which read every client's slice
     * with positional reads (no mapping windows).
     */
    interface FloatKernels {
        FoldKernel create(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite);
    }

    /**
     * As {@link #aggregate(List, Path, Path)}, with {@code floats} folding the floating-point
     * storages when it is not null (then no client file is mapped).
     */
    Result aggregate(List<WeightedFile> clients, Path template, Path out, FloatKernels floats) throws IOException {
        FedAvgPlan plan = FedAvgPlan.of(clients, template, policy, threads, block, mapping && floats == null);
        WeightFile tpl = plan.template;
        double total = plan.total;
        try (TemplateRewrite rewrite = TemplateRewrite.begin(tpl, out)) {
            plan.open();
            try {
                run(plan, rewrite, floats);
            } finally {
                plan.close();
            }
            rewrite.commit();
        }
        return new Result(out, tpl.kind(), clients.size(), total, plan.bytesRead());
    }

    /**
     * Runs the plan's units on {@code threads} threads (this one and the others), each taking the
     * next unit until none is left or one failed, then sets every record's CRC-32 from its units'.
     */
    private void run(FedAvgPlan plan, TemplateRewrite rewrite, FloatKernels floatKernels) throws IOException {
        AtomicInteger next = new AtomicInteger();
        List<WorkerThreads.Share> shares = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            shares.add(failed -> {
                Worker w = new Worker(plan, rewrite, floatKernels);
                for (int u = next.getAndIncrement(); u < plan.unitStorage.length && !failed.getAsBoolean();
                     u = next.getAndIncrement()) {
                    plan.unitCrc[u] = w.unit(plan.unitStorage[u], plan.unitStart[u], plan.unitCount[u]);
                }
            });
        }
        WorkerThreads.run("fedavg", shares);
        // Each record's CRC-32 from its blocks' CRCs, in order.
        List<StorageInfo> st = plan.template.storages();
        int[] crc = new int[st.size()];
        for (int u = 0; u < plan.unitStorage.length; u++) {
            int s = plan.unitStorage[u];
            long len = (long) plan.unitCount[u] * FedAvgPlan.componentSize(st.get(s).dtype());
            crc[s] = plan.unitStart[u] == 0 ? plan.unitCrc[u]
                    : TemplateRewrite.combineCrc32(crc[s], plan.unitCrc[u], len);
        }
        for (int s = 0; s < st.size(); s++) {
            rewrite.setChecksum(st.get(s), crc[s]);
        }
    }

    /**
     * One thread's share: hands each unit to the fold for its kind of storage. The folds, with their
     * buffers, are made on first use, so a thread allocates only what the model's dtypes need.
     */
    private final class Worker {
        final FedAvgPlan plan;
        final TemplateRewrite rewrite;
        final ClientSlices slices;
        final FloatKernels floatKernels;
        private FoldKernel custom;
        private Float32Fold float32;
        private FloatFold floats;
        private IntegerFold integers;
        private BoolFold bools;

        Worker(FedAvgPlan plan, TemplateRewrite rewrite, FloatKernels floatKernels) {
            this.plan = plan;
            this.rewrite = rewrite;
            this.floatKernels = floatKernels;
            this.slices = new ClientSlices(plan);
        }

        /** Averages components [start, start + n) of storage s and returns the block's CRC-32. */
        int unit(int s, long start, int n) throws IOException {
            StorageInfo target = plan.template.storages().get(s);
            return kernel(s, FedAvgPlan.componentType(target.dtype())).unit(target, s, start, n);
        }

        private FoldKernel kernel(int s, DType t) {
            if (floatKernels != null && t.isFloatingPoint()) {
                if (custom == null) {
                    custom = floatKernels.create(plan, slices, rewrite);
                }
                return custom;
            }
            if (plan.fast[s]) {
                if (float32 == null) {
                    float32 = new Float32Fold(plan, slices, rewrite, vector);
                }
                return float32;
            }
            switch (t) {
                case FLOAT32, FLOAT64, FLOAT16, BFLOAT16 -> {
                    if (floats == null) {
                        floats = new FloatFold(plan, slices, rewrite);
                    }
                    return floats;
                }
                case BOOL -> {
                    if (bools == null) {
                        bools = new BoolFold(plan, slices, rewrite);
                    }
                    return bools;
                }
                default -> {
                    if (integers == null) {
                        integers = new IntegerFold(plan, slices, rewrite);
                    }
                    return integers;
                }
            }
        }
    }
}
