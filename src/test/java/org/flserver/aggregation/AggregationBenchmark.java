package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Benchmark of {@link StreamingFedAvg} (throughput and memory; not a test: it prints figures and asserts
 * nothing). For each case (N clients × S float32 parameters, torch state_dict layout) it writes the
 * files, then measures in the same run and on the same files (page cache warm):
 * <ul>
 *   <li>the physical floor: reading all N files once with two threads, 1 MiB {@code pread}s into
 *       reused page-aligned buffers, no arithmetic;</li>
 *   <li>the aggregation: {@code StreamingFedAvg.aggregate} with its defaults, output written next to
 *       the inputs and committed (fsync, rename, directory fsync); each run writes a new file and the
 *       previous run's is deleted before the clock starts, as a server keeps every version;</li>
 *   <li>the same aggregation with the scalar float32 loops instead of the Vector API ones (when the
 *       JVM has {@code jdk.incubator.vector}; otherwise both columns use the scalar loops);</li>
 *   <li>what writing that output alone costs: the same template copied and its payloads written
 *       (zeros) and committed by {@code TemplateRewrite}, no client read, no arithmetic;</li>
 *   <li>the aggregation's peak RSS (VmHWM, reset through {@code /proc/self/clear_refs} after a
 *       {@code System.gc()} before it), and how far above the process's resident set at the start of
 *       the run it went.</li>
 * </ul>
 * Throughput is client bytes consumed per second (GB = 10^9 bytes); each figure is the median of
 * three runs, read-only and aggregation runs interleaved. Run with
 * {@code mvn -B -Pbench -DskipTests test}; {@code -Dbench.cases=10x10000000,...} and
 * {@code -Dbench.dir=...} override the defaults. The files are deleted after each case.
 */
public final class AggregationBenchmark {

    private static final int RUNS = 3;
    /**
     * Untimed aggregations first: the JIT compiles the Vector API loops in several steps (they run
     * interpreted, slowly, until then), and a server aggregates every round, so steady state is
     * what counts.
     */
    private static final int WARM_UP_RUNS = 3;

    private AggregationBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String cases = System.getProperty("bench.cases", "10x10000000,50x10000000,10x100000000");
        Path base = Path.of(System.getProperty("bench.dir", "target/bench")).toAbsolutePath();
        Files.createDirectories(base);
        System.out.printf(Locale.ROOT, "StreamingFedAvg benchmark, %d CPUs, Java %s, max heap %d MB, float32 loops: %s,"
                + " files in %s%n", Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
                Runtime.getRuntime().maxMemory() >> 20, StreamingFedAvg.float32Kernels(), base);
        System.out.printf(Locale.ROOT, "%4s %12s %10s %10s %15s %9s %9s %12s %16s %12s %10s%n", "N", "S (params)",
                "model MB", "client GB", "read-only GB/s", "agg GB/s", "agg/read", "scalar GB/s", "output alone ms",
                "peak RSS MB", "(run +MB)");
        for (String c : cases.split(",")) {
            String[] nx = c.trim().split("x");
            runCase(base, Integer.parseInt(nx[0]), Long.parseLong(nx[1]));
        }
    }

    private static void runCase(Path base, int n, long params) throws Exception {
        Path dir = base.resolve("n" + n + "-s" + params);
        Files.createDirectories(dir);
        try {
            List<WeightedFile> clients = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Path f = dir.resolve("client" + i + ".pt");
                SyntheticTorchFiles.write(f, "archive", params, i);
                clients.add(new WeightedFile(f, 1 + i % 7));
            }
            long modelBytes = params * 4;
            double clientBytes = (double) modelBytes * n;
            // Steady state only: the files are on disk (no writeback competing with the runs), in
            // the page cache, and the aggregation code is compiled, before anything is measured.
            for (WeightedFile c : clients) {
                try (FileChannel ch = FileChannel.open(c.path(), StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            }
            readAll(clients);
            for (int w = 0; w < WARM_UP_RUNS; w++) {
                new StreamingFedAvg().aggregate(clients, clients.get(0).path(), dir.resolve("warm-up.pt"));
                Files.delete(dir.resolve("warm-up.pt"));
                scalarLoops().aggregate(clients, clients.get(0).path(), dir.resolve("warm-up.pt"));
                Files.delete(dir.resolve("warm-up.pt"));
            }
            double[] read = new double[RUNS];
            double[] agg = new double[RUNS];
            double[] output = new double[RUNS];
            double[] scalar = new double[RUNS];
            long rss = -1;
            long rssGrowth = -1;
            WeightFile template = WeightFiles.open(clients.get(0).path(), PicklePolicy.standard());
            // Interleaved, so that load from other processes on a shared machine hits all alike.
            for (int r = 0; r < RUNS; r++) {
                read[r] = clientBytes / seconds(() -> readAll(clients)) / 1e9;
                Path out = dir.resolve("out-" + r + ".pt");
                Path previous = dir.resolve("out-" + (r - 1) + ".pt");
                Files.deleteIfExists(previous);
                // Garbage of earlier steps (the read-only pass's and the file writer's direct buffers,
                // warm-up objects) released first: the figure is the aggregation's, in steady state.
                System.gc();
                resetPeakRss();
                long rssBefore = statusBytes("VmRSS:");
                agg[r] = clientBytes / seconds(() -> new StreamingFedAvg().aggregate(clients, clients.get(0).path(),
                        out)) / 1e9;
                long peak = statusBytes("VmHWM:");
                rss = Math.max(rss, peak);
                rssGrowth = Math.max(rssGrowth, peak - rssBefore);
                Path viaScalar = dir.resolve("scalar-" + r + ".pt");
                scalar[r] = clientBytes / seconds(() -> scalarLoops().aggregate(clients, clients.get(0).path(),
                        viaScalar)) / 1e9;
                Files.delete(viaScalar);
                Path zeros = dir.resolve("zeros-" + r + ".pt");
                output[r] = seconds(() -> writeZeros(template, zeros)) * 1e3;
                Files.delete(zeros);
            }
            double readMedian = median(read);
            double aggMedian = median(agg);
            System.out.printf(Locale.ROOT, "%4d %12d %10.0f %10.2f %15.2f %9.2f %9.2f %12.2f %16.0f %12s %10s%n", n,
                    params, modelBytes / 1e6, clientBytes / 1e9, readMedian, aggMedian, aggMedian / readMedian,
                    median(scalar), median(output),
                    rss < 0 ? "n/a" : Long.toString(rss >> 20), rss < 0 ? "n/a" : "+" + (rssGrowth >> 20));
            System.out.printf(Locale.ROOT, "     runs: read-only %s GB/s, aggregation %s GB/s (scalar loops %s),"
                    + " output alone %s ms; read-only time %.0f ms; RSS goal < %d MB; load average %s%n", fmt(read),
                    fmt(agg), fmt(scalar), fmt(output),
                    clientBytes / readMedian / 1e6, (2 * modelBytes + (256L << 20)) >> 20, loadAverage());
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The aggregation as above but with the scalar float32 loops, for comparison. */
    private static StreamingFedAvg scalarLoops() {
        return new StreamingFedAvg(Math.min(2, Runtime.getRuntime().availableProcessors()), StreamingFedAvg.DEFAULT_BLOCK,
                PicklePolicy.standard(), true, false);
    }

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(StreamingFedAvg.DEFAULT_BLOCK * 4);

    /**
     * The output's own cost: the template's bytes outside the payloads copied, every payload byte
     * written (zeros, in the aggregation's block size) and the file committed, as the aggregation does.
     */
    private static void writeZeros(WeightFile template, Path out) throws IOException {
        ByteBuffer zeros = ZEROS;
        try (TemplateRewrite rewrite = TemplateRewrite.begin(template, out)) {
            for (StorageInfo s : template.storages()) {
                for (long at = 0; at < s.length(); at += zeros.capacity()) {
                    zeros.clear().limit((int) Math.min(zeros.capacity(), s.length() - at));
                    rewrite.write(s, at, zeros);
                }
            }
            rewrite.commit();
        }
    }

    /**
     * The floor's read buffers, one per thread, reused by every pass (no native memory piling up),
     * and page-aligned: the kernel's copy into a buffer that starts a few bytes after a page boundary
     * (as {@code allocateDirect} returns them) from a page-aligned file offset runs at half speed here
     * (4K aliasing between the copy's loads and stores); the floor is the fastest plain read.
     */
    private static final ByteBuffer[] READ_BUFFERS = {pageAligned(1 << 20), pageAligned(1 << 20)};

    private static ByteBuffer pageAligned(int capacity) {
        return ByteBuffer.allocateDirect(capacity + 4096).alignedSlice(4096).limit(capacity).slice();
    }

    /** The floor: every client byte read once, two threads, no arithmetic. */
    private static void readAll(List<WeightedFile> clients) throws IOException {
        AtomicInteger next = new AtomicInteger();
        IOException[] failure = new IOException[1];
        java.util.function.IntConsumer work = thread -> {
            ByteBuffer buf = READ_BUFFERS[thread];
            try {
                for (int i = next.getAndIncrement(); i < clients.size(); i = next.getAndIncrement()) {
                    try (FileChannel ch = FileChannel.open(clients.get(i).path(), StandardOpenOption.READ)) {
                        long pos = 0;
                        long size = ch.size();
                        while (pos < size) {
                            buf.clear();
                            int k = ch.read(buf, pos);
                            if (k < 0) {
                                break;
                            }
                            pos += k;
                        }
                    }
                }
            } catch (IOException e) {
                failure[0] = e;
            }
        };
        Thread t = new Thread(() -> work.accept(1));
        t.start();
        work.accept(0);
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    private interface Action {
        void run() throws Exception;
    }

    private static double seconds(Action a) throws Exception {
        long t0 = System.nanoTime();
        a.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** The median of v (the upper one of an even count). */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** The values with two decimals, separated by spaces. */
    public static String fmt(double[] v) {
        StringBuilder b = new StringBuilder();
        for (double x : v) {
            b.append(b.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.2f", x));
        }
        return b.toString();
    }

    /** Resets the process's peak RSS (VmHWM) where Linux allows it; also used by the robust-rules benchmark. */
    public static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException e) {
            // not Linux: the figure then covers the whole run
        }
    }

    public static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "n/a";
        }
    }

    /** A size line of /proc/self/status ("VmHWM:", "VmRSS:") in bytes, -1 where there is none. */
    public static long statusBytes(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
