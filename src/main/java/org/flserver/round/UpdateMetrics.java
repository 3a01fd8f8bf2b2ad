package org.flserver.round;

import java.util.List;
import org.flserver.model.LocalModel;

/**
 * The training metrics a local update may carry (docs/api.md §5.7). Metrics are their own package,
 * above the round (reporting a metric may move a round on), so {@link UpdateService} reaches them
 * through this interface, which the metric package implements.
 */
public interface UpdateMetrics {

    /** Checks the metrics' keys, values and count without any database work: 400 or 413. */
    void check(List<String> names, List<String> values);

    /** Stores them as metrics of {@code local}, reported by its owner for its round, in the caller's transaction. */
    void attach(LocalModel local, List<String> names, List<String> values);
}
