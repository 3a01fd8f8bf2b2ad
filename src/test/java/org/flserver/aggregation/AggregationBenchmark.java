package org.flserver.aggregation;

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
 * Benchmark of {@link StreamingFedAvg} (acceptance E; not a test: it prints figures and asserts
 * nothing). For each case (N clients × S float32 parameters, torch state_dict layout) it writes the
 * files, then measures in the same run and on the same files (page cache warm):
 * <ul>
 *   <li>the physical floor: reading all N files once with two threads, 1 MiB {@code pread}s into
 *       reused buffers, no arithmetic;</li>
 *   <li>the aggregation: {@code StreamingFedAvg.aggregate} with its defaults, output written next to
 *       the inputs;</li>
 *   <li>the aggregation's peak RSS (VmHWM, reset through {@code /proc/self/clear_refs} before it).</li>
 * </ul>
 * Throughput is client bytes consumed per second (GB = 10^9 bytes); each figure is the median of
 * three runs, read-only and aggregation runs interleaved. Run with
 * {@code mvn -B -Pbench -DskipTests test}; {@code -Dbench.cases=10x10000000,...} and
 * {@code -Dbench.dir=...} override the defaults. The files are deleted after each case.
 */
public final class AggregationBenchmark {

    private static final int RUNS = 3;

    private AggregationBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String cases = System.getProperty("bench.cases", "10x10000000,50x10000000,10x100000000");
        Path base = Path.of(System.getProperty("bench.dir", "target/bench")).toAbsolutePath();
        Files.createDirectories(base);
        System.out.printf(Locale.ROOT, "StreamingFedAvg benchmark, %d CPUs, Java %s, files in %s%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), base);
        System.out.printf(Locale.ROOT, "%4s %12s %10s %12s %14s %8s %14s %14s%n", "N", "S (params)", "model MB",
                "client GB", "read-only GB/s", "agg GB/s", "agg/read", "peak RSS MB");
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
            new StreamingFedAvg().aggregate(clients, clients.get(0).path(), dir.resolve("warm-up.pt"));
            Files.delete(dir.resolve("warm-up.pt"));
            double[] read = new double[RUNS];
            double[] agg = new double[RUNS];
            long rss = -1;
            // Interleaved, so that load from other processes on a shared machine hits both alike.
            for (int r = 0; r < RUNS; r++) {
                read[r] = clientBytes / seconds(() -> readAll(clients)) / 1e9;
                resetPeakRss();
                Path out = dir.resolve("out.pt");
                agg[r] = clientBytes / seconds(() -> new StreamingFedAvg().aggregate(clients, clients.get(0).path(),
                        out)) / 1e9;
                rss = Math.max(rss, peakRssBytes());
            }
            double readMedian = median(read);
            double aggMedian = median(agg);
            System.out.printf(Locale.ROOT, "%4d %12d %10.0f %12.2f %14.2f %8.2f %14.2f %14s%n", n, params,
                    modelBytes / 1e6, clientBytes / 1e9, readMedian, aggMedian, aggMedian / readMedian,
                    rss < 0 ? "n/a" : Long.toString(rss >> 20));
            System.out.printf(Locale.ROOT, "     runs: read-only %s GB/s, aggregation %s GB/s; RSS goal < %d MB;"
                    + " load average %s%n", fmt(read), fmt(agg), (2 * modelBytes + (256L << 20)) >> 20, loadAverage());
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The floor: every client byte read once, two threads, no arithmetic. */
    private static void readAll(List<WeightedFile> clients) throws IOException {
        AtomicInteger next = new AtomicInteger();
        IOException[] failure = new IOException[1];
        Runnable work = () -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
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
        Thread t = new Thread(work);
        t.start();
        work.run();
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

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static String fmt(double[] v) {
        StringBuilder b = new StringBuilder();
        for (double x : v) {
            b.append(b.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.2f", x));
        }
        return b.toString();
    }

    private static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException e) {
            // not Linux: the figure then covers the whole run
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "n/a";
        }
    }

    private static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
