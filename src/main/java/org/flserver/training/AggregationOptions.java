package org.flserver.training;

import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.Set;
import org.flserver.aggregation.AggregationRule;
import org.flserver.aggregation.DpSettings;
import org.flserver.aggregation.OptimizerSettings;
import org.flserver.platform.ApiException;

/**
 * How a training combines the updates of a round (api.md §6.7, design.md §4.2–4.5): the
 * rule of {@code options.aggregation}, the server optimizer of {@code options.server_optimizer} and
 * central DP of {@code options.dp}. They live in the free options, like {@link RoundOptions}, because
 * the Training entity keeps exactly the seed's fields; {@code aggregation_method} keeps meaning
 * FedAvg/FedProx/FedDC.
 *
 * <p>The values are checked at creation by the library's own constructors, whose messages name the
 * key; a refusal is a 400 naming {@code options} and nothing is stored. A training without the three
 * keys aggregates exactly as before ({@link #isDefault()}: the weighted mean, no optimizer, no DP).
 *
 * @param rule      the aggregation rule ({@code mean} when absent)
 * @param optimizer the server optimizer, or null for none (the aggregate becomes the global model)
 * @param dp        central DP-FedAvg, or null for none
 */
public record AggregationOptions(AggregationRule rule, OptimizerSettings optimizer, DpSettings dp) {

    public static final String AGGREGATION = "aggregation";
    public static final String SERVER_OPTIMIZER = "server_optimizer";
    public static final String DP = "dp";

    private static final AggregationOptions DEFAULT = new AggregationOptions(AggregationRule.mean(), null, null);

    /** The keys each of the three objects may hold; any other is refused, not ignored. */
    private static final Set<String> AGGREGATION_KEYS = Set.of("rule", "trim_fraction", "byzantine", "select");
    private static final Set<String> OPTIMIZER_KEYS = Set.of("name", "lr", "beta1", "beta2", "tau");
    private static final Set<String> DP_KEYS = Set.of("clip_norm", "noise_multiplier", "seed", "delta");

    /**
     * The settings of a stored training. They were checked at creation; a training stored before
     * these keys were checked and carrying values that fail the check keeps aggregating as it did
     * then, by the weighted mean (never a failure inside the round engine).
     */
    public static AggregationOptions of(Training training) {
        try {
            return parse(training.optionsJson());
        } catch (ApiException e) {
            return DEFAULT;
        }
    }

    /** True when none of the three keys is set: today's weighted FedAvg, nothing else. */
    public boolean isDefault() {
        return rule.name() == AggregationRule.Name.MEAN && optimizer == null && dp == null;
    }

    /** Reads and checks the three keys; a 400 naming the key when one is wrong. */
    static AggregationOptions parse(JsonObject options) {
        AggregationRule rule = AggregationRule.mean();
        JsonObject a = object(options, AGGREGATION);
        if (a != null) {
            rule = build(AGGREGATION, () -> new AggregationRule(
                    AggregationRule.Name.of(requiredString(a, "rule", AGGREGATION)),
                    number(a, "trim_fraction", AGGREGATION, 0.0),
                    integer(a, "byzantine", AGGREGATION, 0),
                    integer(a, "select", AGGREGATION, 0)), a, AGGREGATION_KEYS);
            if (rule.name() == AggregationRule.Name.KRUM) {
                rule = AggregationRule.krum(rule.byzantine());
            }
        }
        OptimizerSettings optimizer = null;
        JsonObject o = object(options, SERVER_OPTIMIZER);
        if (o != null) {
            optimizer = build(SERVER_OPTIMIZER, () -> OptimizerSettings.of(requiredString(o, "name", SERVER_OPTIMIZER),
                    number(o, "lr", SERVER_OPTIMIZER, null), number(o, "beta1", SERVER_OPTIMIZER, null),
                    number(o, "beta2", SERVER_OPTIMIZER, null), number(o, "tau", SERVER_OPTIMIZER, null)),
                    o, OPTIMIZER_KEYS);
        }
        DpSettings dp = null;
        JsonObject d = object(options, DP);
        if (d != null) {
            // absent, not containsKey: a key given as JSON null is missing too (it was an unboxing NPE, a 500)
            if (OptionValues.absent(d.get("clip_norm")) || OptionValues.absent(d.get("noise_multiplier"))) {
                throw refused("dp needs clip_norm and noise_multiplier.");
            }
            dp = build(DP, () -> new DpSettings(number(d, "clip_norm", DP, null), number(d, "noise_multiplier", DP, null),
                    longValue(d, "seed"), number(d, "delta", DP, DpSettings.DEFAULT_DELTA)), d, DP_KEYS);
            // DP-FedAvg is its own combination (clipped deltas, averaged unweighted, noised): a rule
            // beside it would be silently ignored, so it is refused instead (design.md §4.3)
            if (rule.name() != AggregationRule.Name.MEAN) {
                throw refused("dp cannot be combined with aggregation.rule " + rule.name().label()
                        + ": DP-FedAvg averages the clipped updates itself (use rule mean or leave aggregation out).");
            }
        }
        return new AggregationOptions(rule, optimizer, dp);
    }

    /**
     * What can only be checked when the participants are known: Krum needs more than 2f + 2 updates
     * per round, and a round brings at most {@code clients_per_round} (or every participant). A 400 at
     * start; the training stays in {@code I}. A round that still brings too few (a deadline closed it
     * with fewer) fails the training at aggregation, with the reason recorded.
     */
    static void checkAtStart(Training training, RoundOptions round) {
        AggregationOptions options = of(training);
        int participants = training.getParticipants().size();
        int perRound = round.clientsPerRound() == null ? participants : Math.min(participants, round.clientsPerRound());
        try {
            options.rule.requireClients(perRound); // Krum's N > 2f + 2, Multi-Krum's m <= N - f
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("The training cannot start (options checked at start): options."
                    + AGGREGATION + ": " + e.getMessage() + " (a round brings at most " + perRound + ": "
                    + (round.clientsPerRound() == null ? "the participants" : RoundOptions.CLIENTS_PER_ROUND
                    + " and the participants") + ").");
        }
    }

    private interface Builder<T> {
        T build();
    }

    private static <T> T build(String key, Builder<T> builder, JsonObject value, Set<String> allowed) {
        for (String k : value.keySet()) {
            if (!allowed.contains(k)) {
                throw refused(key + " has no key " + k + " (allowed: " + String.join(", ", allowed.stream().sorted()
                        .toList()) + ").");
            }
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            throw refused(m.startsWith(key + ".") ? m : key + ": " + m);
        }
    }

    private static JsonObject object(JsonObject options, String key) {
        JsonValue v = options.get(key);
        if (OptionValues.absent(v)) {
            return null;
        }
        if (!(v instanceof JsonObject o)) {
            throw refused(key + " must be a JSON object.");
        }
        return o;
    }

    private static String requiredString(JsonObject o, String key, String parent) {
        JsonValue v = o.get(key);
        if (!(v instanceof JsonString s)) {
            throw refused(parent + "." + key + " must be a string.");
        }
        return s.getString();
    }

    private static Double number(JsonObject o, String key, String parent, Double absent) {
        JsonValue v = o.get(key);
        if (OptionValues.absent(v)) {
            return absent;
        }
        if (!(v instanceof JsonNumber n)) {
            throw refused(parent + "." + key + " must be a number.");
        }
        return n.doubleValue();
    }

    private static int integer(JsonObject o, String key, String parent, int absent) {
        JsonValue v = o.get(key);
        if (OptionValues.absent(v)) {
            return absent;
        }
        if (!OptionValues.isIntAtLeast(v, 0)) {
            throw refused(parent + "." + key + " must be a non-negative integer.");
        }
        return ((JsonNumber) v).intValue();
    }

    private static Long longValue(JsonObject o, String key) {
        JsonValue v = o.get(key);
        if (OptionValues.absent(v)) {
            return null;
        }
        if (!(v instanceof JsonNumber n) || !n.isIntegral() || n.bigIntegerValue().bitLength() > 63) {
            throw refused(DP + "." + key + " must be an integer that fits 64 bits.");
        }
        return n.longValue();
    }

    private static ApiException refused(String text) {
        return ApiException.field("options", text + " (checked when the training is created)");
    }
}
