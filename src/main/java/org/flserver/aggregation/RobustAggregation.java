package org.flserver.aggregation;

import org.flserver.tensor.DurableMove;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The aggregation rules of {@link AggregationRule} over N weight files, streaming like
 * {@link StreamingFedAvg} (docs/design.md §4.2): every client file is read in blocks, memory is a
 * few blocks per client and thread plus N² doubles for Krum, never N models, and the output is a
 * rewritten copy of the template, committed atomically or not at all.
 *
 * <ul>
 *   <li>{@code mean}: {@link StreamingFedAvg} (its bits), then the result is checked for NaN and
 *       infinities, and if it holds one the client file behind it is named and nothing is written;</li>
 *   <li>{@code median}, {@code trimmed_mean}: one pass; floating-point storages by
 *       {@link CoordinateFold}, integer and bool storages by the mean rule over all clients with
 *       their weights (so BatchNorm's {@code num_batches_tracked} is what FedAvg gives);</li>
 *   <li>{@code krum}, {@code multi_krum}: a first pass accumulates the squared L2 distances of every
 *       pair of updates over all floating-point storage components (each storage once, tied ones too),
 *       in unit order ({@link OrderedSums}) so the scores are the same bits in every run; ties in the
 *       score go to the earlier client. A second pass is the mean rule over the selected clients in
 *       client order: weighted by sample size for Multi-Krum, weight 1 for Krum (whose result is then
 *       exactly the selected file's values, integer and bool buffers included).</li>
 * </ul>
 *
 * <p>Every rule refuses an update holding NaN or an infinity in a floating-point tensor with a
 * {@link NonFiniteUpdateException} naming the file and tensor.
 */
public final class RobustAggregation {

    private final int threads;
    private final int block;
    private final PicklePolicy policy;

    /** Two threads (or one on a single CPU), a block size chosen per N, the standard pickle allow-list. */
    public RobustAggregation() {
        this(Math.min(2, Runtime.getRuntime().availableProcessors()), 0, PicklePolicy.standard());
    }

    /**
     * @param blockElements elements per block, or 0 to choose per N: 2^20 elements over all clients
     *                      (4 MiB of float32), between 1024 and {@link StreamingFedAvg#DEFAULT_BLOCK}
     *                      elements: reads of tens of KiB per client, while the kernels work on tiles
     *                      of the block that stay in the core's cache
     */
    public RobustAggregation(int threads, int blockElements, PicklePolicy policy) {
        if (threads < 1 || blockElements < 0 || blockElements > (1 << 24)) {
            throw new IllegalArgumentException("threads >= 1 and 0 <= blockElements <= 2^24");
        }
        this.threads = threads;
        this.block = blockElements;
        this.policy = Objects.requireNonNull(policy);
    }

    int blockFor(int clients) {
        return block > 0 ? block : Math.max(1024, Math.min(StreamingFedAvg.DEFAULT_BLOCK, (1 << 20) / clients));
    }

    /**
     * Combines {@code clients} by {@code rule} into {@code out}, a rewritten copy of {@code template}.
     *
     * @throws IllegalArgumentException     when the rule does not fit the number of clients, or the
     *                                      weights of the clients to average sum to zero
     * @throws NonFiniteUpdateException     when a client's floating-point tensor holds NaN or ±Inf
     * @throws org.flserver.tensor.IncompatibleWeightsException when a client does not match the template
     * @throws org.flserver.tensor.WeightFileException          when any file is refused by the reader
     */
    public AggregationReport aggregate(AggregationRule rule, List<WeightedFile> clients, Path template, Path out)
            throws IOException {
        rule.requireClients(clients.size());
        return switch (rule.name()) {
            case MEAN -> mean(clients, template, out);
            case MEDIAN, TRIMMED_MEAN -> coordinateWise(rule, clients, template, out);
            case KRUM, MULTI_KRUM -> krum(rule, clients, template, out);
        };
    }

    private AggregationReport mean(List<WeightedFile> clients, Path template, Path out) throws IOException {
        Path temp = Files.createTempFile(out.toAbsolutePath().getParent(), "." + out.getFileName() + ".", ".mean");
        try {
            new StreamingFedAvg(threads, StreamingFedAvg.DEFAULT_BLOCK, policy).aggregate(clients, template, temp);
            requireFinite(clients, template, temp);
            DurableMove.replace(temp, out);
        } finally {
            Files.deleteIfExists(temp);
        }
        return report("mean", out, clients, null, null, null, 0, 0, 0);
    }

    /**
     * The mean of finite values is finite, unless the weights overflow it: so the result is read
     * once (one model, cheap beside N), and only if it is not finite are the clients read to name
     * the culprit.
     */
    private void requireFinite(List<WeightedFile> clients, Path template, Path result) throws IOException {
        try {
            scan(List.of(new WeightedFile(result, 1)), template, (u, s, start, n, x) -> { });
        } catch (NonFiniteUpdateException inResult) {
            scan(clients, template, (u, s, start, n, x) -> { });
            throw new IllegalArgumentException("the weighted mean is not finite: the weights are too large");
        }
    }

    private AggregationReport coordinateWise(AggregationRule rule, List<WeightedFile> clients, Path template,
            Path out) throws IOException {
        int n = clients.size();
        boolean median = rule.name() == AggregationRule.Name.MEDIAN;
        int trim = rule.trimmedPerSide(n);
        List<CoordinateFold> folds = Collections.synchronizedList(new ArrayList<>());
        new StreamingFedAvg(threads, blockFor(n), policy).aggregate(clients, template, out, (plan, slices, rewrite) -> {
            CoordinateFold f = new CoordinateFold(plan, slices, rewrite, median, trim);
            folds.add(f);
            return f;
        });
        long[] low = new long[n];
        long[] high = new long[n];
        for (CoordinateFold f : folds) {
            for (int c = 0; c < n; c++) {
                low[c] += f.trimmedLow[c];
                high[c] += f.trimmedHigh[c];
            }
        }
        return report(rule.name().label(), out, clients, null, low, high, trim, 0, 0);
    }

    private AggregationReport krum(AggregationRule rule, List<WeightedFile> clients, Path template, Path out)
            throws IOException {
        int n = clients.size();
        double[] scores = krumScores(clients, template, rule.byzantine());
        Integer[] byScore = new Integer[n];
        for (int i = 0; i < n; i++) {
            byScore[i] = i;
        }
        Arrays.sort(byScore, (a, b) -> Double.compare(scores[a], scores[b])); // stable: ties to the earlier client
        int m = rule.selected(n);
        boolean[] selected = new boolean[n];
        for (int k = 0; k < m; k++) {
            selected[byScore[k]] = true;
        }
        List<WeightedFile> chosen = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (selected[i]) {
                chosen.add(rule.name() == AggregationRule.Name.KRUM ? new WeightedFile(clients.get(i).path(), 1)
                        : clients.get(i));
            }
        }
        new StreamingFedAvg(threads, StreamingFedAvg.DEFAULT_BLOCK, policy).aggregate(chosen, template, out);
        return report(rule.name().label(), out, clients, scores, null, null, 0, rule.byzantine(), m, selected);
    }

    /**
     * Central DP-FedAvg with fixed clipping (docs/design.md §4.3): a first pass computes each update's
     * delta norm ‖x_c − g‖ over all floating-point components, a second writes
     * {@code g + mean_c(min(1, C/‖Δ_c‖) · Δ_c) + N(0, (zC/N)²)} per floating-point component into a
     * rewritten copy of the global model; integer and bool storages follow the mean rule over the
     * updates with their weights. Updates are averaged unweighted, whatever their weights.
     *
     * @param round the round's number: with the seed, it keys the noise ({@link GaussianNoise}), so
     *              rounds never reuse noise
     * @param global the current global model (also the template of the output)
     */
    public AggregationReport dpFedAvg(DpSettings dp, long round, List<WeightedFile> clients, Path global, Path out)
            throws IOException {
        int n = clients.size();
        if (n < 1) {
            throw new IllegalArgumentException("no client files to aggregate");
        }
        List<WeightedFile> withGlobal = new ArrayList<>(clients);
        withGlobal.add(new WeightedFile(global, 0));
        double[] squares = orderedScan(withGlobal, global, n, () -> (partial, x, len) -> {
            double[] g = x[n];
            for (int c = 0; c < n; c++) {
                double[] xc = x[c];
                double s = 0;
                for (int j = 0; j < len; j++) {
                    double e = xc[j] - g[j];
                    s += e * e;
                }
                partial[c] += s;
            }
        });
        double[] norms = new double[n];
        double[] factors = new double[n];
        for (int c = 0; c < n; c++) {
            norms[c] = Math.sqrt(squares[c]);
            factors[c] = norms[c] > dp.clipNorm() ? dp.clipNorm() / norms[c] : 1.0;
        }
        double sigma = dp.noiseMultiplier() * dp.clipNorm() / n;
        long seed = dp.seed() != null ? dp.seed() : new java.security.SecureRandom().nextLong();
        GaussianNoise noise = new GaussianNoise(seed, round);
        new StreamingFedAvg(threads, blockFor(n + 1), policy).aggregate(withGlobal, global, out,
                (plan, slices, rewrite) -> new DpFold(plan, slices, rewrite, factors, floatBases(plan), sigma, noise));
        List<AggregationReport.ClientReport> rows = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            rows.add(new AggregationReport.ClientReport(clients.get(c).path(), clients.get(c).weight(), Double.NaN,
                    true, 0, 0, norms[c], factors[c]));
        }
        return new AggregationReport("dp_fedavg", out, List.copyOf(rows), 0, 0, 0, sigma);
    }

    /** Per storage: the index of its first component among all floating-point components, in file order. */
    static long[] floatBases(FedAvgPlan plan) {
        var st = plan.template.storages();
        long[] base = new long[st.size()];
        long k = 0;
        for (int s = 0; s < st.size(); s++) {
            base[s] = k;
            if (FloatScan.isFloat(plan, s)) {
                k += st.get(s).length() / FedAvgPlan.componentSize(st.get(s).dtype());
            }
        }
        return base;
    }

    /**
     * Krum's scores: for each update, the sum of its squared distances to its N − f − 2 nearest
     * others, the distances added in ascending order.
     */
    double[] krumScores(List<WeightedFile> clients, Path template, int byzantine) throws IOException {
        int n = clients.size();
        double[] d = pairwiseSquaredDistances(clients, template);
        int nearest = n - byzantine - 2;
        double[] scores = new double[n];
        double[] row = new double[n - 1];
        for (int i = 0; i < n; i++) {
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    row[k++] = d[PairwiseDistances.pairIndex(Math.min(i, j), Math.max(i, j), n)];
                }
            }
            Arrays.sort(row);
            double s = 0;
            for (int j = 0; j < nearest; j++) {
                s += row[j];
            }
            scores[i] = s;
        }
        return scores;
    }

    /**
     * Squared L2 distances of all pairs (upper triangle, row by row) over the floating-point
     * components: per block in the order of {@link PairwiseDistances}, the blocks added in unit order.
     */
    double[] pairwiseSquaredDistances(List<WeightedFile> clients, Path template) throws IOException {
        int n = clients.size();
        int pairs = n * (n - 1) / 2;
        return orderedScan(clients, template, pairs, () -> {
            double[] scratch = PairwiseDistances.scratch(n);
            return (partial, x, len) -> PairwiseDistances.addAll(x, n, len, partial, scratch);
        });
    }

    /** What {@link #orderedScan} computes from one block into its unit's partial vector. */
    interface BlockSum {
        void add(double[] partial, double[][] x, int n);
    }

    /**
     * A {@link FloatScan} over the floating-point storages of {@code clients} whose per-unit partial
     * vectors of {@code length} doubles are summed in unit order; {@code sums} makes each thread's
     * {@link BlockSum} (which may keep scratch of its own).
     */
    double[] orderedScan(List<WeightedFile> clients, Path template, int length, Supplier<BlockSum> sums)
            throws IOException {
        FedAvgPlan plan = FedAvgPlan.of(clients, template, policy, threads, blockFor(clients.size()), false);
        OrderedSums ordered = new OrderedSums(length, FloatScan.floatUnits(plan));
        plan.open();
        try {
            FloatScan.run(plan, threads, () -> {
                BlockSum sum = sums.get();
                return (u, s, start, n, x) -> {
                    double[] partial = new double[length];
                    sum.add(partial, x, n);
                    ordered.add(u, partial);
                };
            });
        } finally {
            plan.close();
        }
        return ordered.total();
    }

    private void scan(List<WeightedFile> clients, Path template, FloatScan.Visitor visitor) throws IOException {
        FedAvgPlan plan = FedAvgPlan.of(clients, template, policy, threads, blockFor(clients.size()), false);
        plan.open();
        try {
            FloatScan.run(plan, threads, () -> visitor);
        } finally {
            plan.close();
        }
    }

    static AggregationReport report(String rule, Path out, List<WeightedFile> clients, double[] scores, long[] low,
            long[] high, int trim, int byzantine, int select) {
        return report(rule, out, clients, scores, low, high, trim, byzantine, select, null);
    }

    private static AggregationReport report(String rule, Path out, List<WeightedFile> clients, double[] scores,
            long[] low, long[] high, int trim, int byzantine, int select, boolean[] selected) {
        List<AggregationReport.ClientReport> rows = new ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            rows.add(new AggregationReport.ClientReport(clients.get(i).path(), clients.get(i).weight(),
                    scores != null ? scores[i] : Double.NaN, selected == null || selected[i],
                    low != null ? low[i] : 0, high != null ? high[i] : 0, Double.NaN, Double.NaN));
        }
        return new AggregationReport(rule, out, List.copyOf(rows), trim, byzantine, select, Double.NaN);
    }
}
