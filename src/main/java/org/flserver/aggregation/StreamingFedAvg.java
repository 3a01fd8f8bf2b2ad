package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.HalfFloats;
import org.flserver.tensor.IncompatibleWeightsException;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;

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
 * every weight is an integer (falling back to {@link BigInteger} on overflow), else the same in
 * double precision; bool storages are true where any client with weight > 0 is true.
 *
 * <p>How it is fast (see performance.md): the storages are cut into cache-sized blocks; for each
 * block every client's slice is folded into one reused {@code double[]} accumulator, and the block is
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
 */
public final class StreamingFedAvg {

    /** Elements per block: 32K float32 = 128 KiB per client slice, accumulator 256 KiB, fits L2. */
    public static final int DEFAULT_BLOCK = 1 << 15;

    /** At most this many bytes of client files are mapped at once (all threads together). */
    static final long MAPPED_BYTES = 128L << 20;

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
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("no client files to average");
        }
        double total = 0;
        boolean integral = true;
        for (WeightedFile c : clients) {
            total += c.weight();
            integral &= c.weight() == Math.rint(c.weight()) && c.weight() <= (1L << 53);
        }
        if (!(total > 0)) {
            throw new IllegalArgumentException("the total weight of the clients is zero");
        }
        WeightFile tpl = WeightFiles.open(template, policy);
        List<WeightFile> files = new ArrayList<>();
        for (WeightedFile c : clients) {
            WeightFile f = WeightFiles.open(c.path(), policy);
            tpl.requireCompatible(f);
            files.add(f);
        }
        Plan plan = new Plan(tpl, files, clients, total, integral);
        try (TemplateRewrite rewrite = TemplateRewrite.begin(tpl, out)) {
            plan.open();
            try {
                plan.run(rewrite);
            } finally {
                plan.close();
            }
            rewrite.commit();
        }
        return new Result(out, tpl.kind(), clients.size(), total, plan.bytesRead());
    }

    /** The work of one aggregation: the blocks, the open client files, the per-block checksums. */
    private final class Plan {
        final WeightFile template;
        final List<WeightFile> files;
        final double[] weights;
        final long[] intWeights;
        final double total;
        final long intTotal;
        final boolean exactIntegers;
        final BigInteger bigTotal;
        final StorageInfo[][] clientStorages; // [storage][client]
        final FileChannel[] channels;
        final boolean[] fast; // [storage]: float32 (or complex64), little-endian in the template and every client
        final int window; // elements per unit of a fast storage when read through mappings; 0: positional reads
        // blocks: storage index, first component, component count
        final int[] unitStorage;
        final long[] unitStart;
        final int[] unitCount;
        final int[] unitCrc;

        Plan(WeightFile template, List<WeightFile> files, List<WeightedFile> clients, double total, boolean integral)
                throws WeightFileException {
            this.template = template;
            this.files = files;
            this.total = total;
            int n = files.size();
            weights = new double[n];
            intWeights = new long[n];
            BigInteger t = BigInteger.ZERO;
            for (int i = 0; i < n; i++) {
                weights[i] = clients.get(i).weight();
                intWeights[i] = (long) weights[i];
                t = t.add(BigInteger.valueOf(intWeights[i]));
            }
            bigTotal = t;
            exactIntegers = integral && t.bitLength() < 63;
            intTotal = exactIntegers ? t.longValue() : 0;
            List<StorageInfo> st = template.storages();
            clientStorages = new StorageInfo[st.size()][n];
            fast = new boolean[st.size()];
            long modelBytes = 0;
            for (StorageInfo info : st) {
                modelBytes += info.length();
            }
            window = mappingWindow(modelBytes, n);
            long unitTotal = 0;
            for (int s = 0; s < st.size(); s++) {
                for (int c = 0; c < n; c++) {
                    String key = st.get(s).key();
                    clientStorages[s][c] = files.get(c).storage(key).orElseThrow(() ->
                            new IncompatibleWeightsException("storage " + key + " is missing from a client file"));
                }
                fast[s] = componentType(st.get(s).dtype()) == DType.FLOAT32
                        && st.get(s).byteOrder() == ByteOrder.LITTLE_ENDIAN;
                for (StorageInfo cs : clientStorages[s]) {
                    fast[s] &= cs.byteOrder() == ByteOrder.LITTLE_ENDIAN;
                }
                unitTotal += (components(st.get(s)) + span(s) - 1) / span(s);
            }
            if (unitTotal > Integer.MAX_VALUE - 8) {
                throw new WeightFileException("model too large for the block size");
            }
            unitStorage = new int[(int) unitTotal];
            unitStart = new long[(int) unitTotal];
            unitCount = new int[(int) unitTotal];
            unitCrc = new int[(int) unitTotal];
            int u = 0;
            for (int s = 0; s < st.size(); s++) {
                long comps = components(st.get(s));
                int span = span(s);
                for (long e = 0; e < comps; e += span) {
                    unitStorage[u] = s;
                    unitStart[u] = e;
                    unitCount[u] = (int) Math.min(span, comps - e);
                    u++;
                }
            }
            channels = new FileChannel[n];
        }

        /** Elements per unit of storage s: a mapping window for fast storages when mapping, else a block. */
        int span(int s) {
            return fast[s] && window > 0 ? window : block;
        }

        /**
         * Elements per client mapping window, or 0 to use positional reads. All threads together keep
         * at most max(16 MiB, min(half the model size, 128 MiB)) of client files mapped (mapped pages
         * count towards the resident set, and peak RSS must stay below two model sizes plus 256 MB for
         * any N); when that leaves less than 256 KiB per client (smaller windows cost more in mapping
         * and page faults than positional reads do), or mappings cannot be released deterministically,
         * positional reads into a reused buffer are used instead.
         */
        int mappingWindow(long modelBytes, int n) {
            if (!mapping || !Unmapper.AVAILABLE) {
                return 0;
            }
            long budget = Math.max(16L << 20, Math.min(modelBytes / 2, MAPPED_BYTES)) / threads;
            long perClient = budget / n / 4; // elements
            perClient -= perClient % block;
            return perClient * 4 < (256 << 10) ? 0 : (int) Math.min(perClient, 1 << 26);
        }

        void open() throws IOException {
            for (int c = 0; c < files.size(); c++) {
                channels[c] = FileChannel.open(files.get(c).path(), StandardOpenOption.READ);
                if (channels[c].size() != files.get(c).size()) {
                    throw new WeightFileException(files.get(c).path().getFileName() + " changed after it was read");
                }
            }
        }

        void close() throws IOException {
            for (FileChannel ch : channels) {
                if (ch != null) {
                    ch.close();
                }
            }
        }

        long bytesRead() {
            long b = 0;
            for (StorageInfo[] row : clientStorages) {
                for (StorageInfo s : row) {
                    b += s.length();
                }
            }
            return b;
        }

        void run(TemplateRewrite rewrite) throws IOException {
            AtomicInteger next = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Runnable work = () -> {
                Worker w = new Worker(this, rewrite);
                try {
                    for (int u = next.getAndIncrement(); u < unitStorage.length && failure.get() == null;
                         u = next.getAndIncrement()) {
                        unitCrc[u] = w.unit(unitStorage[u], unitStart[u], unitCount[u]);
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            };
            List<Thread> pool = new ArrayList<>();
            for (int i = 1; i < threads; i++) {
                Thread t = new Thread(work, "fedavg-" + i);
                t.setDaemon(true);
                t.start();
                pool.add(t);
            }
            work.run();
            for (Thread t : pool) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure.compareAndSet(null, e);
                }
            }
            Throwable f = failure.get();
            if (f instanceof IOException io) {
                throw io;
            } else if (f instanceof RuntimeException re) {
                throw re;
            } else if (f instanceof Error err) {
                throw err;
            } else if (f != null) {
                throw new IOException("aggregation interrupted", f);
            }
            // Each record's CRC-32 from its blocks' CRCs, in order.
            List<StorageInfo> st = template.storages();
            int[] crc = new int[st.size()];
            for (int u = 0; u < unitStorage.length; u++) {
                int s = unitStorage[u];
                long len = (long) unitCount[u] * componentSize(st.get(s).dtype());
                crc[s] = unitStart[u] == 0 ? unitCrc[u] : TemplateRewrite.combineCrc32(crc[s], unitCrc[u], len);
            }
            for (int s = 0; s < st.size(); s++) {
                rewrite.setChecksum(st.get(s), crc[s]);
            }
        }
    }

    /** Complex storages are averaged as pairs of their real components. */
    static DType componentType(DType t) {
        return t == DType.COMPLEX64 ? DType.FLOAT32 : t == DType.COMPLEX128 ? DType.FLOAT64 : t;
    }

    static int componentSize(DType t) {
        return componentType(t).size();
    }

    private static long components(StorageInfo s) {
        return s.length() / componentSize(s.dtype());
    }

    /** One thread's reused buffers and the arithmetic of one block. */
    private final class Worker {
        final Plan plan;
        final TemplateRewrite rewrite;
        final ByteBuffer in = ByteBuffer.allocateDirect(block * 8);
        final ByteBuffer out = ByteBuffer.allocateDirect(block * 8);
        final double[] acc = new double[block];
        final long[] accL = new long[block];
        final float[] f = new float[block];
        /**
         * Up to four clients' slices for the float32 path with positional reads, and read-only views of
         * them for the kernels: read-only like the mappings, so the kernels only ever see one buffer
         * class (a second one makes their call sites polymorphic and the loops markedly slower).
         */
        final ByteBuffer[] ins = {in, ByteBuffer.allocateDirect(block * 4), ByteBuffer.allocateDirect(block * 4),
                ByteBuffer.allocateDirect(block * 4)};
        final ByteBuffer[] inViews = new ByteBuffer[ins.length];
        final MappedByteBuffer[] maps;
        final double[] d = new double[block];
        /** Each client's float32 slice as an array, for the Vector API loops (which are fastest on arrays). */
        final float[][] slices = vector ? new float[4][block] : null;
        final short[] sh = new short[block];
        final int[] iv = new int[block];
        final long[] lv = new long[block];
        final byte[] bv = new byte[block];
        final CRC32 crc = new CRC32();

        Worker(Plan plan, TemplateRewrite rewrite) {
            this.plan = plan;
            this.rewrite = rewrite;
            maps = new MappedByteBuffer[plan.window > 0 ? plan.files.size() : 0];
            for (int i = 0; i < ins.length; i++) {
                inViews[i] = ins[i].asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
            }
        }

        /** Averages components [start, start + n) of storage s and returns the block's CRC-32. */
        int unit(int s, long start, int n) throws IOException {
            StorageInfo target = plan.template.storages().get(s);
            DType t = componentType(target.dtype());
            int size = t.size();
            boolean isFloat = t == DType.FLOAT32 || t == DType.FLOAT64 || t == DType.FLOAT16 || t == DType.BFLOAT16;
            boolean exact = !isFloat && t != DType.BOOL && plan.exactIntegers;
            boolean overflow = false;
            if (plan.fast[s]) {
                return plan.window > 0 ? float32MappedUnit(target, s, start, n) : float32Unit(target, s, start, n);
            }
            for (int c = 0; c < plan.files.size(); c++) {
                StorageInfo src = plan.clientStorages[s][c];
                read(plan.channels[c], src.offset() + start * size, n * size, src.byteOrder());
                boolean first = c == 0;
                if (isFloat) {
                    accumulateFloat(t, n, plan.weights[c], first);
                } else if (t == DType.BOOL) {
                    accumulateBool(n, plan.weights[c] > 0, first);
                } else if (exact && !overflow) {
                    overflow = !accumulateExact(t, n, plan.intWeights[c], first);
                } else if (!exact) {
                    accumulateInexact(t, n, plan.weights[c], first);
                }
            }
            if (overflow) {
                recomputeWithBigIntegers(s, start, n, t);
            }
            out.clear().order(target.byteOrder());
            if (isFloat) {
                storeFloat(t, n);
            } else if (t == DType.BOOL) {
                out.put(bv, 0, n);
            } else if (exact && !overflow) {
                for (int j = 0; j < n; j++) {
                    lv[j] = accL[j] / plan.intTotal; // Java long division truncates toward zero
                }
                storeInteger(t, n);
            } else if (!exact) {
                for (int j = 0; j < n; j++) {
                    lv[j] = (long) (acc[j] / plan.total);
                }
                storeInteger(t, n);
            } else {
                storeInteger(t, n); // lv filled by the BigInteger path
            }
            out.flip();
            crc.reset();
            crc.update(out.duplicate());
            rewrite.write(target, start * size, out);
            return (int) crc.getValue();
        }

        /**
         * The common case (little-endian float32 in every file), specialised: clients are folded four
         * at a time into the accumulator, in client order, so that each accumulator element is loaded
         * and stored once per four clients; the arithmetic is exactly that of the generic path. This
         * variant reads each client's slice with a positional read.
         */
        private int float32Unit(StorageInfo target, int s, long start, int n) throws IOException {
            crc.reset();
            fold(s, start, n);
            finishFloat32Block(target, start, n);
            return (int) crc.getValue();
        }

        /**
         * The same over a window of up to {@code plan.window} elements: every client's window is mapped,
         * folded block by block straight from the mappings (no copy by the kernel, none into arrays:
         * this saves about a third of the CPU time of positional reads), and unmapped before returning.
         */
        private int float32MappedUnit(StorageInfo target, int s, long start, int count) throws IOException {
            int clients = plan.files.size();
            int mappedCount = 0;
            try {
                for (int c = 0; c < clients; c++) {
                    StorageInfo src = plan.clientStorages[s][c];
                    maps[c] = plan.channels[c].map(FileChannel.MapMode.READ_ONLY, src.offset() + start * 4,
                            (long) count * 4);
                    mappedCount++;
                    maps[c].order(ByteOrder.LITTLE_ENDIAN);
                }
                crc.reset();
                for (int off = 0; off < count; off += block) {
                    int n = Math.min(block, count - off);
                    foldMapped(off * 4, n);
                    finishFloat32Block(target, start + off, n);
                }
                return (int) crc.getValue();
            } catch (InternalError e) { // how the JVM reports a fault in a mapping (file truncated meanwhile)
                throw new WeightFileException("a client file changed while it was read");
            } finally {
                for (int c = 0; c < mappedCount; c++) {
                    MappedByteBuffer m = maps[c];
                    maps[c] = null;
                    Unmapper.unmap(m);
                }
            }
        }

        /** Folds every client's mapped bytes [o, o + 4n) of the current window into acc, in client order. */
        private void foldMapped(int o, int n) {
            int clients = plan.files.size();
            for (int c = 0; c < clients; c += 4) {
                foldGroup(maps, c, c, Math.min(4, clients - c), o, n);
            }
        }

        /** Folds every client's elements [start, start + n) of storage s into acc, in client order. */
        private void fold(int s, long start, int n) throws IOException {
            int clients = plan.files.size();
            for (int c = 0; c < clients; c += 4) {
                int k = Math.min(4, clients - c);
                for (int i = 0; i < k; i++) {
                    StorageInfo src = plan.clientStorages[s][c + i];
                    read(ins[i], plan.channels[c + i], src.offset() + start * 4, n * 4, ByteOrder.LITTLE_ENDIAN);
                }
                foldGroup(inViews, 0, c, k, 0, n);
            }
        }

        /**
         * Folds clients c .. c + k - 1 (k &lt;= 4), whose little-endian floats start at byte o of
         * b[bi] .. b[bi + k - 1], into acc; c == 0 starts the accumulator.
         */
        private void foldGroup(ByteBuffer[] b, int bi, int c, int k, int o, int n) {
            double[] a = acc;
            double[] w = plan.weights;
            boolean first = c == 0;
            if (vector) {
                // One bulk copy per slice (a plain memory copy on a little-endian machine), then the loops.
                for (int i = 0; i < k; i++) {
                    b[bi + i].asFloatBuffer().get(o >> 2, slices[i], 0, n);
                }
                float[][] x = slices;
                if (k == 4) {
                    VectorFloat32Kernels.fold4(a, first, x[0], w[c], x[1], w[c + 1], x[2], w[c + 2], x[3], w[c + 3], n);
                } else {
                    for (int i = 0; i < k; i++) {
                        VectorFloat32Kernels.fold1(a, first && i == 0, x[i], w[c + i], n);
                    }
                }
                return;
            }
            switch (k) {
                case 4 -> {
                    if (first) {
                        Float32Kernels.first4(a, b[bi], w[c], b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], b[bi + 3], w[c + 3], o, n);
                    } else {
                        Float32Kernels.add4(a, b[bi], w[c], b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], b[bi + 3], w[c + 3], o, n);
                    }
                }
                case 3 -> {
                    if (first) {
                        Float32Kernels.first1(a, b[bi], o, w[c], n);
                    } else {
                        Float32Kernels.add1(a, b[bi], o, w[c], n);
                    }
                    Float32Kernels.add2(a, b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], o, n);
                }
                case 2 -> {
                    if (first) {
                        Float32Kernels.first1(a, b[bi], o, w[c], n);
                        Float32Kernels.add1(a, b[bi + 1], o, w[c + 1], n);
                    } else {
                        Float32Kernels.add2(a, b[bi], w[c], b[bi + 1], w[c + 1], o, n);
                    }
                }
                default -> {
                    if (first) {
                        Float32Kernels.first1(a, b[bi], o, w[c], n);
                    } else {
                        Float32Kernels.add1(a, b[bi], o, w[c], n);
                    }
                }
            }
        }

        /** Divides, rounds, checksums (continuing crc) and writes the block [start, start + n). */
        private void finishFloat32Block(StorageInfo target, long start, int n) throws IOException {
            if (vector) {
                VectorFloat32Kernels.finish(f, acc, plan.total, n);
            } else {
                Float32Kernels.divide(acc, plan.total, n);
                Float32Kernels.narrow(f, acc, n);
            }
            out.clear().order(ByteOrder.LITTLE_ENDIAN);
            out.asFloatBuffer().put(f, 0, n);
            out.limit(n * 4);
            crc.update(out.duplicate());
            rewrite.write(target, start * 4, out);
        }

        private void read(FileChannel ch, long pos, int len, ByteOrder order) throws IOException {
            read(in, ch, pos, len, order);
        }

        private static void read(ByteBuffer buf, FileChannel ch, long pos, int len, ByteOrder order) throws IOException {
            buf.clear().limit(len);
            while (buf.hasRemaining()) {
                if (ch.read(buf, pos + buf.position()) < 0) {
                    throw new WeightFileException("a client file became shorter while it was read");
                }
            }
            buf.flip().order(order);
        }

        private void accumulateFloat(DType t, int n, double w, boolean first) {
            double[] a = acc;
            switch (t) {
                case FLOAT32 -> {
                    in.asFloatBuffer().get(f, 0, n);
                    float[] x = f;
                    if (first) {
                        for (int j = 0; j < n; j++) {
                            a[j] = 0.0 + x[j] * w;
                        }
                    } else {
                        for (int j = 0; j < n; j++) {
                            a[j] += x[j] * w;
                        }
                    }
                }
                case FLOAT64 -> {
                    in.asDoubleBuffer().get(d, 0, n);
                    double[] x = d;
                    for (int j = 0; j < n; j++) {
                        a[j] = (first ? 0.0 : a[j]) + x[j] * w;
                    }
                }
                case FLOAT16 -> {
                    in.asShortBuffer().get(sh, 0, n);
                    for (int j = 0; j < n; j++) {
                        a[j] = (first ? 0.0 : a[j]) + HalfFloats.halfToFloat(sh[j]) * w;
                    }
                }
                default -> { // BFLOAT16
                    in.asShortBuffer().get(sh, 0, n);
                    for (int j = 0; j < n; j++) {
                        a[j] = (first ? 0.0 : a[j]) + HalfFloats.bfloat16ToFloat(sh[j]) * w;
                    }
                }
            }
        }

        private void storeFloat(DType t, int n) {
            double[] a = acc;
            double total = plan.total;
            switch (t) {
                case FLOAT32 -> {
                    for (int j = 0; j < n; j++) {
                        f[j] = (float) (a[j] / total);
                    }
                    out.asFloatBuffer().put(f, 0, n);
                }
                case FLOAT64 -> {
                    for (int j = 0; j < n; j++) {
                        d[j] = a[j] / total;
                    }
                    out.asDoubleBuffer().put(d, 0, n);
                }
                case FLOAT16 -> {
                    for (int j = 0; j < n; j++) {
                        sh[j] = HalfFloats.floatToHalf((float) (a[j] / total));
                    }
                    out.asShortBuffer().put(sh, 0, n);
                }
                default -> {
                    for (int j = 0; j < n; j++) {
                        sh[j] = HalfFloats.floatToBfloat16((float) (a[j] / total));
                    }
                    out.asShortBuffer().put(sh, 0, n);
                }
            }
            out.position(n * t.size());
        }

        private void accumulateBool(int n, boolean counts, boolean first) {
            byte[] x = bvScratch();
            in.get(x, 0, n);
            for (int j = 0; j < n; j++) {
                bv[j] = (byte) ((first ? 0 : bv[j]) | (counts && x[j] != 0 ? 1 : 0));
            }
        }

        private byte[] scratch;

        private byte[] bvScratch() {
            if (scratch == null) {
                scratch = new byte[block];
            }
            return scratch;
        }

        /** Loads n integers of type t from the input buffer into lv. */
        private void loadIntegers(DType t, int n) {
            switch (t) {
                case INT64 -> in.asLongBuffer().get(lv, 0, n);
                case INT32 -> {
                    in.asIntBuffer().get(iv, 0, n);
                    for (int j = 0; j < n; j++) {
                        lv[j] = iv[j];
                    }
                }
                case INT16 -> {
                    in.asShortBuffer().get(sh, 0, n);
                    for (int j = 0; j < n; j++) {
                        lv[j] = sh[j];
                    }
                }
                case INT8 -> {
                    in.get(bvScratch(), 0, n);
                    for (int j = 0; j < n; j++) {
                        lv[j] = scratch[j];
                    }
                }
                default -> { // UINT8
                    in.get(bvScratch(), 0, n);
                    for (int j = 0; j < n; j++) {
                        lv[j] = scratch[j] & 0xFF;
                    }
                }
            }
        }

        /** Exact Σ w·x in long; false on overflow (the block is then redone with BigInteger). */
        private boolean accumulateExact(DType t, int n, long w, boolean first) {
            loadIntegers(t, n);
            try {
                for (int j = 0; j < n; j++) {
                    accL[j] = Math.addExact(first ? 0 : accL[j], Math.multiplyExact(lv[j], w));
                }
                return true;
            } catch (ArithmeticException e) {
                return false;
            }
        }

        private void accumulateInexact(DType t, int n, double w, boolean first) {
            loadIntegers(t, n);
            for (int j = 0; j < n; j++) {
                acc[j] = (first ? 0.0 : acc[j]) + lv[j] * w;
            }
        }

        private void recomputeWithBigIntegers(int s, long start, int n, DType t) throws IOException {
            BigInteger[] sum = new BigInteger[n];
            java.util.Arrays.fill(sum, BigInteger.ZERO);
            for (int c = 0; c < plan.files.size(); c++) {
                StorageInfo src = plan.clientStorages[s][c];
                read(plan.channels[c], src.offset() + start * t.size(), n * t.size(), src.byteOrder());
                loadIntegers(t, n);
                BigInteger w = BigInteger.valueOf(plan.intWeights[c]);
                for (int j = 0; j < n; j++) {
                    sum[j] = sum[j].add(BigInteger.valueOf(lv[j]).multiply(w));
                }
            }
            for (int j = 0; j < n; j++) {
                lv[j] = sum[j].divide(plan.bigTotal).longValue(); // BigInteger division truncates toward zero
            }
        }

        private void storeInteger(DType t, int n) {
            switch (t) {
                case INT64 -> out.asLongBuffer().put(lv, 0, n);
                case INT32 -> {
                    for (int j = 0; j < n; j++) {
                        iv[j] = (int) lv[j];
                    }
                    out.asIntBuffer().put(iv, 0, n);
                }
                case INT16 -> {
                    for (int j = 0; j < n; j++) {
                        sh[j] = (short) lv[j];
                    }
                    out.asShortBuffer().put(sh, 0, n);
                }
                default -> { // INT8, UINT8
                    for (int j = 0; j < n; j++) {
                        bv[j] = (byte) lv[j];
                    }
                    out.put(bv, 0, n);
                    return;
                }
            }
            out.position(n * t.size());
        }
    }
}
