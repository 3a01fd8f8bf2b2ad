package org.flserver.bench;

import org.flserver.aggregation.AggregationBenchmark;
import org.flserver.aggregation.AggregationRule;
import org.flserver.aggregation.RobustAggregation;
import org.flserver.aggregation.StreamingFedAvg;
import org.flserver.aggregation.WeightedFile;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Benchmark of the robust rules (README, "Benchmarks"; not a test: it prints figures and asserts
 * nothing). For each case (N clients × S float32 parameters) src/test/python/robust_bench.py writes
 * N torch.save state_dicts of standard normal values; then, on the same files, this JVM runs
 * {@link StreamingFedAvg} (mean), median, trimmed mean (β = 0.1) and Krum (f = ⌊(N − 3) / 2⌋,
 * at most 10) with {@link RobustAggregation}, each after two untimed warm-up runs, measuring the
 * median wall time of {@value #TIMED_RUNS} runs and their peak RSS (VmHWM reset before them); and
 * robust_bench.py runs numpy's versions (np.median; the sort-based trimmed mean and, printed below
 * its row, the np.partition form that Flower's FedTrimmedAvg uses; Krum over the stacked arrays;
 * weighted sum), one process per rule, reporting the median compute time (after loading) of as
 * many computations, and the peak RSS. The medians, on both sides, because single runs on the
 * shared virtual machine vary by up to half (the table in the README gives every run).
 *
 * <p>Run with {@code mvn -B -o -Pbench-robust -DskipTests test}; {@code -Dbench.cases=10x10000000,50x10000000}
 * (the default), {@code -Dbench.rules=median,krum} (default: all four) and {@code -Dbench.dir=...}
 * choose the sizes, the rules and the folder. The files are deleted
 * after each case.
 */
public final class RobustAggregationBenchmark {

    /** Timed runs per rule, on both sides; the median is reported. */
    private static final int TIMED_RUNS = 3;

    private RobustAggregationBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String cases = System.getProperty("bench.cases", "10x10000000,50x10000000");
        Path base = Path.of(System.getProperty("bench.dir", "target/bench-robust")).toAbsolutePath();
        Path script = Path.of(System.getProperty("bench.script", "src/test/python/robust_bench.py"));
        Files.createDirectories(base);
        System.out.printf(Locale.ROOT, "Robust aggregation benchmark, %d CPUs, Java %s, max heap %d MB, files in %s%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
                Runtime.getRuntime().maxMemory() >> 20, base);
        System.out.printf(Locale.ROOT, "%4s %11s %-13s %10s %12s %12s %11s %12s %9s%s%n", "N", "S", "rule", "ours s",
                "ours RSS MB", "numpy s", "numpy load", "numpy RSS MB", "speed-up", "  runs (s)");
        for (String c : cases.split(",")) {
            String[] nx = c.trim().split("x");
            runCase(base, script, Integer.parseInt(nx[0]), Long.parseLong(nx[1]));
        }
    }

    private static void runCase(Path base, Path script, int n, long params) throws Exception {
        Path dir = base.resolve("n" + n + "-s" + params);
        Files.createDirectories(dir);
        try {
            python(List.of(script.toString(), "generate", "--dir", dir.toString(), "--clients", Integer.toString(n),
                    "--params", Long.toString(params)));
            List<WeightedFile> clients = new ArrayList<>();
            List<String> specs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Path f = dir.resolve("client" + i + ".pt");
                clients.add(new WeightedFile(f, 1 + i % 7));
                specs.add(f + ":" + (1 + i % 7));
            }
            int f = Math.min(10, (n - 3) / 2);
            Object[][] rules = {
                {"fedavg", null, List.of()},
                {"median", AggregationRule.median(), List.of()},
                // numpy's second form of the trimmed mean: Flower's own (np.partition), printed below the row
                {"trimmed_mean", AggregationRule.trimmedMean(0.1), List.of("--trim-fraction", "0.1"), "trimmed_mean_partition"},
                {"krum", AggregationRule.krum(f), List.of("--byzantine", Integer.toString(f))},
            };
            List<String> only = List.of(System.getProperty("bench.rules", "fedavg,median,trimmed_mean,krum").split(","));
            for (Object[] r : rules) {
                String name = (String) r[0];
                if (!only.contains(name)) {
                    continue;
                }
                AggregationRule rule = (AggregationRule) r[1];
                Path out = dir.resolve("out-" + name + ".pt");
                for (int w = 0; w < 2; w++) { // warm-up: the JIT compiles the Vector API loops in steps
                    ours(rule, clients, out);
                    Files.delete(out);
                }
                System.gc();
                AggregationBenchmark.resetPeakRss();
                double[] runs = new double[TIMED_RUNS];
                long collections = collections();
                for (int t = 0; t < TIMED_RUNS; t++) {
                    long t0 = System.nanoTime();
                    ours(rule, clients, out);
                    runs[t] = (System.nanoTime() - t0) / 1e9;
                    Files.delete(out);
                }
                collections = collections() - collections;
                long rss = AggregationBenchmark.statusBytes("VmHWM:");
                double seconds = AggregationBenchmark.median(runs);
                @SuppressWarnings("unchecked")
                List<String> extra = (List<String>) r[2];
                String json = numpy(script, name, extra, specs);
                double np = field(json, "compute_s");
                System.out.printf(Locale.ROOT, "%4d %11d %-13s %10.2f %12d %12.2f %11.2f %12.0f %8.1fx   ours %s (%d GCs), numpy %s%n", n,
                        params, name, seconds, rss >> 20, np, field(json, "load_s"), field(json, "peak_rss_mb"), np / seconds,
                        AggregationBenchmark.fmt(runs), collections, AggregationBenchmark.fmt(numbers(json, "compute_runs_s")));
                if (r.length > 3) {
                    String second = numpy(script, (String) r[3], extra, specs);
                    double np2 = field(second, "compute_s");
                    System.out.printf(Locale.ROOT, "%30s numpy as %s: %.2f s, %.1fx ours (runs %s)%n", "", r[3], np2,
                            np2 / seconds, AggregationBenchmark.fmt(numbers(second, "compute_runs_s")));
                }
            }
            // RobustAggregation's default block: 2^20 float32 elements over all clients (4 MiB), held twice
            // (values and sort keys) by each of the two threads.
            long blocks = 2L * 2 * n * Math.max(1024, Math.min(StreamingFedAvg.DEFAULT_BLOCK, (1 << 20) / n)) * 4;
            System.out.printf(Locale.ROOT, "     model %d MB; RSS goal 2 x model + N x block + 256 MB = %d MB; load average %s%n",
                    params * 4 >> 20, (2 * params * 4 + blocks + (256L << 20)) >> 20, AggregationBenchmark.loadAverage());
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * Garbage collections so far in this JVM. An aggregation allocates its block buffers once per
     * run (Krum also a small vector of partial sums per block): that makes a few collections in the
     * timed runs, up to about 15 for Krum; a kernel that C2 left boxed (every vector an object,
     * the rule several times slower) makes hundreds. The figure makes such a run visible in the
     * table.
     */
    private static long collections() {
        long n = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    private static void ours(AggregationRule rule, List<WeightedFile> clients, Path out) throws IOException {
        if (rule == null) {
            new StreamingFedAvg().aggregate(clients, clients.get(0).path(), out);
        } else {
            new RobustAggregation().aggregate(rule, clients, clients.get(0).path(), out);
        }
    }

    /** robust_bench.py's run of one numpy rule on the files: its JSON line. */
    private static String numpy(Path script, String rule, List<String> extra, List<String> specs)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(script.toString(), "run", "--rule", rule,
                "--repeat", Integer.toString(TIMED_RUNS)));
        cmd.addAll(extra);
        cmd.addAll(specs);
        return python(cmd);
    }

    private static String python(List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("bench.python", "/usr/bin/python3")));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("robust_bench.py failed: " + cmd.subList(0, Math.min(4, cmd.size())));
        }
        return out.trim();
    }

    /** A field of robust_bench.py's one-line JSON output holding a list of numbers. */
    private static double[] numbers(String json, String key) {
        int from = json.indexOf("\"" + key + "\": [") + key.length() + 5;
        return Arrays.stream(json.substring(from, json.indexOf(']', from)).split(","))
                .mapToDouble(v -> Double.parseDouble(v.trim())).toArray();
    }

    /** A number field of robust_bench.py's one-line JSON output. */
    private static double field(String json, String key) {
        int i = json.indexOf("\"" + key + "\": ");
        int from = i + key.length() + 4;
        int to = from;
        while (to < json.length() && ",}".indexOf(json.charAt(to)) < 0) {
            to++;
        }
        return Double.parseDouble(json.substring(from, to));
    }
}
