package org.flserver.aggregation;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a rule decided in one aggregation, for provenance, the admin page and
 * {@code TensorTool aggregate --report}: per client its Krum score and whether it was selected,
 * how many coordinates the trimmed mean dropped from it, its delta's norm and clipping factor under
 * DP; and the rule's parameters as applied to this N.
 *
 * @param rule           the rule's label ({@code mean}, …, or {@code dp_fedavg})
 * @param out            the file written
 * @param clients        one entry per client file, in the order given
 * @param trimmedPerSide ⌊βN⌋ for the trimmed mean, else 0
 * @param byzantine      f for Krum and Multi-Krum, else 0
 * @param selectCount    updates combined by Krum / Multi-Krum, else 0
 * @param noiseStddev    σ = zC/N of DP-FedAvg, else NaN
 */
public record AggregationReport(String rule, Path out, List<ClientReport> clients, int trimmedPerSide,
                                int byzantine, int selectCount, double noiseStddev) {

    /**
     * One client's part.
     *
     * @param file        its weight file
     * @param weight      its weight (sample size)
     * @param krumScore   Krum score (sum of squared distances to its N − f − 2 nearest others), else NaN
     * @param selected    whether its floating-point values entered the result (always true for
     *                    the coordinate-wise rules, the mean and DP)
     * @param trimmedLow  coordinates where its value was below every value the trimmed mean kept
     * @param trimmedHigh coordinates where its value was above every value the trimmed mean kept
     * @param deltaNorm   DP: L2 norm of its delta to the global model over the floating tensors, else NaN
     * @param clipFactor  DP: min(1, C / deltaNorm), the factor its delta was scaled by, else NaN
     */
    public record ClientReport(Path file, double weight, double krumScore, boolean selected, long trimmedLow,
                               long trimmedHigh, double deltaNorm, double clipFactor) {
    }

    /** The files whose values entered the result, in client order. */
    public List<Path> selectedFiles() {
        return clients.stream().filter(ClientReport::selected).map(ClientReport::file).toList();
    }

    /**
     * As one JSON object: {@code rule}, {@code out}, {@code clients} (count), the rule's parameters,
     * {@code selected} (file names) and {@code files} (one object per client, with only the fields
     * that apply to the rule).
     */
    public String toJson() {
        StringBuilder b = new StringBuilder("{\"rule\": ").append(q(rule));
        b.append(", \"out\": ").append(q(out.toString()));
        b.append(", \"clients\": ").append(clients.size());
        switch (rule) {
            case "trimmed_mean" -> b.append(", \"trimmed_per_side\": ").append(trimmedPerSide)
                    .append(", \"kept_per_coordinate\": ").append(clients.size() - 2 * trimmedPerSide);
            case "krum", "multi_krum" -> b.append(", \"byzantine\": ").append(byzantine)
                    .append(", \"nearest\": ").append(clients.size() - byzantine - 2)
                    .append(", \"select\": ").append(selectCount);
            case "dp_fedavg" -> b.append(", \"noise_stddev\": ").append(num(noiseStddev));
            default -> {
            }
        }
        b.append(", \"selected\": [");
        List<Path> sel = selectedFiles();
        for (int i = 0; i < sel.size(); i++) {
            b.append(i > 0 ? ", " : "").append(q(sel.get(i).toString()));
        }
        b.append("], \"files\": [");
        for (int i = 0; i < clients.size(); i++) {
            ClientReport c = clients.get(i);
            b.append(i > 0 ? ", " : "").append("{\"file\": ").append(q(c.file().toString()))
                    .append(", \"weight\": ").append(num(c.weight()))
                    .append(", \"selected\": ").append(c.selected());
            if (!Double.isNaN(c.krumScore())) {
                b.append(", \"krum_score\": ").append(num(c.krumScore()));
            }
            if (rule.equals("trimmed_mean")) {
                b.append(", \"trimmed_low\": ").append(c.trimmedLow()).append(", \"trimmed_high\": ").append(c.trimmedHigh());
            }
            if (!Double.isNaN(c.deltaNorm())) {
                b.append(", \"delta_norm\": ").append(num(c.deltaNorm()))
                        .append(", \"clip_factor\": ").append(num(c.clipFactor()));
            }
            b.append('}');
        }
        return b.append("]}").toString();
    }

    /** A JSON number: integers without a fraction, others with Java's shortest round-trip digits. */
    private static String num(double d) {
        if (!Double.isFinite(d)) {
            return "null";
        }
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return String.valueOf((long) d);
        }
        return String.valueOf(d).toLowerCase(Locale.ROOT);
    }

    private static String q(String s) {
        return TensorTool.q(s);
    }
}
