package org.flserver.metric;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import org.flserver.model.LocalModel;
import org.flserver.round.UpdateMetrics;

/** The metric package's side of {@link UpdateMetrics}: the same rules and limits as a metric report. */
@ApplicationScoped
public class LocalUpdateMetrics implements UpdateMetrics {

    @Inject
    MetricService metrics;

    @Inject
    MetricLimits limits;

    @Override
    public void check(List<String> names, List<String> values) {
        MetricValue.parse(names, values, limits.maxRows());
    }

    @Override
    public void attach(LocalModel local, List<String> names, List<String> values) {
        metrics.attach(local, local.getOwner(), local.getRound(), MetricValue.parse(names, values, limits.maxRows()));
    }
}
