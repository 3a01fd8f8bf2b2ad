package org.flserver.metric;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * How many metrics one request may report ({@code fl.metrics.max-rows}, default 1000). A report
 * is stored under its training's row lock, so its size is how long it holds up every other
 * request of that training; a client reports a handful of values per round.
 */
@ApplicationScoped
public class MetricLimits {

    @Inject
    @ConfigProperty(name = "fl.metrics.max-rows", defaultValue = "1000")
    int maxRows;

    public int maxRows() {
        return maxRows;
    }
}
