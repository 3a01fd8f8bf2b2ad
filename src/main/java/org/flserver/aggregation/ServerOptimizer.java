package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.DurableMove;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;

/**
 * One step of a server-side optimizer ({@link OptimizerSettings}) over weight files, streaming:
 * the global model, the round's aggregate and the optimizer state are read block by block, the new
 * global model (a rewritten copy of the old one) and the new state are written block by block.
 * Memory: a few blocks per thread, never a model.
 *
 * <p>Floating-point storages are updated by the optimizer (in double precision, the result rounded
 * once to the dtype); integer and bool storages take the aggregate's values.
 *
 * <p>The state file (docs/design.md §4.4), little-endian: the 8 bytes {@code FLOPTST1}; int32
 * format version 1; int32 number of vectors V (1: m, 2: m and v); int64 steps taken so far; int64 K,
 * the number of floating-point components of the model (the running index over its floating
 * storages in file order, complex numbers as two); 32 bytes reserved (0); then K × V float64 values,
 * per component its m (and v). The state is never overwritten: each step reads the previous
 * version's file and writes a new one (built under a temporary name, fsynced, moved atomically), so
 * a crash at any point leaves the previous global model and its state intact; the caller records
 * which pair is current.
 */
public final class ServerOptimizer {

    static final byte[] MAGIC = {'F', 'L', 'O', 'P', 'T', 'S', 'T', '1'};
    static final int HEADER = 64;

    private final OptimizerSettings settings;
    private final int threads;
    private final int block;
    private final PicklePolicy policy;

    public ServerOptimizer(OptimizerSettings settings) {
        this(settings, Math.min(2, Runtime.getRuntime().availableProcessors()), 1 << 14, PicklePolicy.standard());
    }

    ServerOptimizer(OptimizerSettings settings, int threads, int block, PicklePolicy policy) {
        this.settings = Objects.requireNonNull(settings);
        this.threads = threads;
        this.block = block;
        this.policy = policy;
    }

    /** What a step did: the step count after it (always 1 for sgd, which keeps no state), and the files written (state null for sgd). */
    public record Step(long steps, Path global, Path state) {
    }

    /**
     * Applies one step.
     *
     * @param global    the current global model (also the template of the new one)
     * @param aggregate the round's aggregate (any rule's output), same architecture
     * @param stateIn   the state written by the previous step, or null before the first step
     * @param out       where the new global model goes
     * @param stateOut  where the new state goes (ignored for sgd, which has none)
     * @throws WeightFileException when a file is refused or the state does not fit the model and optimizer
     */
    public Step step(Path global, Path aggregate, Path stateIn, Path out, Path stateOut) throws IOException {
        int vectors = settings.name().vectors;
        List<WeightedFile> files = List.of(new WeightedFile(global, 0), new WeightedFile(aggregate, 1));
        // Opened first to know K; StreamingFedAvg opens the files again for the pass itself.
        FedAvgPlan probe = FedAvgPlan.of(files, global, policy, 1, block, false);
        long[] base = RobustAggregation.floatBases(probe);
        long k = floatComponents(probe);
        long steps = 0;
        FileChannel in = null;
        FileChannel outState = null;
        Path temp = null;
        try {
            if (vectors > 0 && stateIn != null) {
                in = FileChannel.open(stateIn, StandardOpenOption.READ);
                steps = readHeader(in, stateIn, vectors, k);
            }
            if (vectors > 0) {
                temp = Files.createTempFile(stateOut.toAbsolutePath().getParent(), "." + stateOut.getFileName() + ".", ".tmp");
                outState = FileChannel.open(temp, StandardOpenOption.WRITE);
                writeHeader(outState, vectors, steps + 1, k);
            }
            FileChannel stateRead = in;
            FileChannel stateWrite = outState;
            new StreamingFedAvg(threads, block, policy).aggregate(files, global, out,
                    (plan, slices, rewrite) -> new Fold(plan, slices, rewrite, base, stateRead, stateWrite));
            if (outState != null) {
                outState.force(true);
                outState.close();
                outState = null;
                DurableMove.replace(temp, stateOut);
                temp = null;
            }
        } finally {
            if (in != null) {
                in.close();
            }
            if (outState != null) {
                outState.close();
            }
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
        }
        return new Step(steps + 1, out, vectors > 0 ? stateOut : null);
    }

    private static long floatComponents(FedAvgPlan plan) {
        long k = 0;
        for (int s = 0; s < plan.template.storages().size(); s++) {
            if (FloatScan.isFloat(plan, s)) {
                StorageInfo st = plan.template.storages().get(s);
                k += st.length() / FedAvgPlan.componentSize(st.dtype());
            }
        }
        return k;
    }

    private static void writeHeader(FileChannel ch, int vectors, long steps, long k) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        h.put(MAGIC).putInt(1).putInt(vectors).putLong(steps).putLong(k);
        h.clear();
        writeFully(ch, h, 0);
    }

    private static long readHeader(FileChannel ch, Path file, int vectors, long k) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h, 0, file);
        h.flip();
        byte[] magic = new byte[8];
        h.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC) || h.getInt() != 1) {
            throw new WeightFileException(file.getFileName() + " is not an optimizer state file (version 1)");
        }
        int v = h.getInt();
        long steps = h.getLong();
        long kk = h.getLong();
        if (v != vectors || kk != k || ch.size() != HEADER + k * vectors * 8) {
            throw new WeightFileException(file.getFileName() + " does not fit: it holds " + v + " vectors of " + kk
                    + " components, the optimizer needs " + vectors + " of " + k);
        }
        return steps;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) {
                throw new WeightFileException(file.getFileName() + " is shorter than its header says");
            }
        }
    }

    /** The fold of floating-point storages: clients are [global, aggregate]. */
    private final class Fold extends FoldKernel {
        private final FloatBlocks blocks;
        private final long[] base;
        private final FileChannel stateIn;
        private final FileChannel stateOut;
        private final ByteBuffer state;
        private final double[] result;

        Fold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite, long[] base, FileChannel stateIn,
                FileChannel stateOut) {
            super(plan, slices, rewrite);
            this.blocks = new FloatBlocks(plan, slices);
            this.base = base;
            this.stateIn = stateIn;
            this.stateOut = stateOut;
            int v = settings.name().vectors;
            this.state = ByteBuffer.allocateDirect(Math.max(1, block * v * 8)).order(ByteOrder.LITTLE_ENDIAN);
            this.result = new double[block];
        }

        @Override
        int unit(StorageInfo target, int s, long start, int n) throws IOException {
            DType t = FedAvgPlan.componentType(target.dtype());
            double[][] x = blocks.load(s, start, n);
            double[] g = x[0];
            double[] a = x[1];
            int v = settings.name().vectors;
            long pos = HEADER + (base[s] + start) * v * 8;
            state.clear().limit(n * v * 8);
            if (stateIn != null) {
                readFully(stateIn, state, pos, Path.of("optimizer state"));
                state.flip();
            } else {
                while (state.hasRemaining()) {
                    state.put((byte) 0);
                }
                state.flip();
            }
            double lr = settings.lr();
            double b1 = settings.beta1();
            double b2 = settings.beta2();
            double tau = settings.tau();
            for (int j = 0; j < n; j++) {
                double d = a[j] - g[j];
                switch (settings.name()) {
                    case SGD -> result[j] = g[j] + lr * d;
                    case MOMENTUM -> {
                        double m = b1 * state.getDouble(j * 8) + d;
                        state.putDouble(j * 8, m);
                        result[j] = g[j] + lr * m;
                    }
                    default -> {
                        double m = b1 * state.getDouble(j * 16) + (1 - b1) * d;
                        double vv = state.getDouble(j * 16 + 8);
                        double d2 = d * d;
                        vv = switch (settings.name()) {
                            case ADAM -> b2 * vv + (1 - b2) * d2;
                            case YOGI -> vv - (1 - b2) * d2 * Math.signum(vv - d2);
                            default -> vv + d2; // ADAGRAD
                        };
                        state.putDouble(j * 16, m);
                        state.putDouble(j * 16 + 8, vv);
                        result[j] = g[j] + lr * m / (Math.sqrt(vv) + tau);
                    }
                }
            }
            if (stateOut != null) {
                state.position(0).limit(n * v * 8);
                writeFully(stateOut, state, pos);
            }
            out.clear().order(target.byteOrder());
            blocks.store(out, t, result, n);
            return writeBlock(target, start * t.size());
        }
    }
}
