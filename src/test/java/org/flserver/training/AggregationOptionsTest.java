package org.flserver.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import org.flserver.aggregation.AggregationRule;
import org.flserver.aggregation.DpSettings;
import org.flserver.aggregation.OptimizerSettings;
import org.flserver.platform.ApiException;
import org.junit.jupiter.api.Test;

/** The aggregation options of api.md §6.7: what creation accepts and refuses, what start checks. */
class AggregationOptionsTest {

    private static JsonObject json(String text) {
        return RoundOptionsTest.json(text);
    }

    private static Training training(String options, int participants) {
        return RoundOptionsTest.training(options, participants);
    }

    @Test
    void withoutTheKeysTheTrainingAggregatesAsBefore() {
        AggregationOptions o = AggregationOptions.parse(json("{\"daisy_chain_period\": 0, \"dp\": null}"));
        assertTrue(o.isDefault());
        assertEquals(AggregationRule.mean(), o.rule());
        assertNull(o.optimizer());
        assertNull(o.dp());
    }

    @Test
    void validOptionsAreRead() {
        AggregationOptions o = AggregationOptions.parse(json("{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 2},"
                + " \"server_optimizer\": {\"name\": \"yogi\", \"lr\": 0.5}}"));
        assertEquals(AggregationRule.krum(2), o.rule());
        assertEquals(new OptimizerSettings(OptimizerSettings.Name.YOGI, 0.5, 0.9, 0.99, 1e-3), o.optimizer());
        AggregationOptions dp = AggregationOptions.parse(json("{\"dp\": {\"clip_norm\": 2, \"noise_multiplier\": 0.5,"
                + " \"seed\": -7, \"delta\": 1e-6}, \"aggregation\": {\"rule\": \"mean\"}}"));
        assertEquals(new DpSettings(2, 0.5, -7L, 1e-6), dp.dp());
        assertEquals(AggregationRule.multiKrum(1, 3), AggregationOptions.parse(json(
                "{\"aggregation\": {\"rule\": \"multi_krum\", \"byzantine\": 1, \"select\": 3}}")).rule());
        assertEquals(AggregationRule.trimmedMean(0.25), AggregationOptions.parse(json(
                "{\"aggregation\": {\"rule\": \"trimmed_mean\", \"trim_fraction\": 0.25}}")).rule());
    }

    @Test
    void badOptionsAreRefusedNamingTheKey() {
        String[][] bad = {
            {"{\"aggregation\": {}}", "aggregation.rule must be a string"},
            {"{\"aggregation\": {\"rule\": \"average\"}}", "aggregation: unknown aggregation rule \"average\""},
            {"{\"aggregation\": {\"rule\": \"trimmed_mean\", \"trim_fraction\": -0.1}}", "aggregation: trim_fraction"},
            {"{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 1.5}}", "aggregation.byzantine"},
            {"{\"aggregation\": {\"rule\": \"krum\", \"select\": 2}}", "aggregation: krum selects one update"},
            {"{\"aggregation\": {\"rule\": \"median\", \"trim_fraction\": \"x\"}}", "aggregation.trim_fraction"},
            {"{\"aggregation\": [1]}", "aggregation must be a JSON object"},
            {"{\"server_optimizer\": {\"lr\": 1}}", "server_optimizer.name must be a string"},
            {"{\"server_optimizer\": {\"name\": \"sgd\", \"tau\": 0}}", "server_optimizer.tau"},
            {"{\"server_optimizer\": {\"name\": \"sgd\", \"momentum\": 0.9}}", "server_optimizer has no key momentum"},
            {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": -1}}", "dp.noise_multiplier"},
            {"{\"dp\": {\"clip_norm\": 1}}", "dp needs clip_norm and noise_multiplier"},
            {"{\"dp\": {\"clip_norm\": null, \"noise_multiplier\": 1}}", "dp needs clip_norm and noise_multiplier"},
            {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": null}}", "dp needs clip_norm and noise_multiplier"},
            {"{\"aggregation\": {\"rule\": null}}", "aggregation.rule must be a string"},
            {"{\"server_optimizer\": {\"name\": null}}", "server_optimizer.name must be a string"},
            {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": 1, \"seed\": 9223372036854775808}}", "dp.seed"},
            {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": 1}, \"aggregation\": {\"rule\": \"krum\"}}",
                "dp cannot be combined"},
        };
        for (String[] b : bad) {
            ApiException e = assertThrows(ApiException.class, () -> AggregationOptions.parse(json(b[0])), b[0]);
            assertTrue(e.getMessage().startsWith("options: " + b[1]), b[0] + " → " + e.getMessage());
            assertTrue(e.getMessage().endsWith("(checked when the training is created)"), e.getMessage());
        }
    }

    @Test
    void krumIsCheckedAtStartAgainstWhatARoundCanBring() {
        String krum = "{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 1}";
        AggregationOptions.checkAtStart(training(krum + "}", 5), RoundOptions.of(training(krum + "}", 5)));
        ApiException few = assertThrows(ApiException.class, () -> AggregationOptions.checkAtStart(
                training(krum + "}", 4), RoundOptions.of(training(krum + "}", 4))));
        assertTrue(few.getMessage().contains("needs more than 4 updates, got 4"), few.getMessage());
        Training sampled = training(krum + ", \"clients_per_round\": 4}", 10);
        ApiException sampledFew = assertThrows(ApiException.class, () -> AggregationOptions.checkAtStart(sampled,
                RoundOptions.of(sampled)));
        assertTrue(sampledFew.getMessage().contains("clients_per_round"), sampledFew.getMessage());
        Training select = training("{\"aggregation\": {\"rule\": \"multi_krum\", \"byzantine\": 1, \"select\": 5}}", 5);
        ApiException tooMany = assertThrows(ApiException.class, () -> AggregationOptions.checkAtStart(select,
                RoundOptions.of(select)));
        assertTrue(tooMany.getMessage().contains("at most N - byzantine = 4"), tooMany.getMessage());
        // other rules need no count
        Training median = training("{\"aggregation\": {\"rule\": \"median\"}}", 1);
        AggregationOptions.checkAtStart(median, RoundOptions.of(median));
    }
}
