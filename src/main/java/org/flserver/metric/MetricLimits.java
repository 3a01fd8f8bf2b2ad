package org.flserver.metric;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * How many metrics one request may report ({@code fl.metrics.max-rows}, default 1000). A report
 * is stored under its training's row lock, so its size is how long it holds up every other
 * request of that training; a client reports a handful of values per round.
 *
 * <p>And how many one model keeps ({@code fl.metrics.max-per-model}, default 100000 rows, and
 * {@code fl.metrics.max-binary-bytes-per-model}, default 16 MiB of values that are no number): a
 * model's metrics are listed in one answer built in memory, and without these limits anyone who
 * may report for a model could repeat reports until listing them exhausted the heap. 100000 rows
 * are 100 participants reporting 5 values in each of 200 rounds.
 */
@ApplicationScoped
public class MetricLimits {

    @Inject
    @ConfigProperty(name = "fl.metrics.max-rows", defaultValue = "1000")
    int maxRows;

    @Inject
    @ConfigProperty(name = "fl.metrics.max-per-model", defaultValue = "100000")
    long maxPerModel;

    @Inject
    @ConfigProperty(name = "fl.metrics.max-binary-bytes-per-model", defaultValue = "16777216")
    long maxBinaryBytesPerModel;

    public int maxRows() {
        return maxRows;
    }

    public long maxPerModel() {
        return maxPerModel;
    }

    public long maxBinaryBytesPerModel() {
        return maxBinaryBytesPerModel;
    }
}
