package org.flserver.web;

import java.util.Comparator;
import java.util.Locale;
import java.util.function.Function;

/**
 * The columns the trainings list can be sorted by, named as in the {@code sort} view parameter.
 * Only these names are accepted, so the parameter can never reach a query; unknown names fall back
 * to the default. Every order ends with the training id, so equal values keep a stable order.
 */
public enum TrainingSort {
    ID("id", Comparator.comparing((TrainingRow r) -> r.getId().toString())),
    MODEL("model", text(TrainingRow::getModelName)),
    ACTOR("actor", text(TrainingRow::getActor)),
    STATE("state", text(TrainingRow::getState)),
    AGGREGATION("aggregation", text(TrainingRow::getAggregationMethod)),
    UNCERTAINTY("uncertainty", text(TrainingRow::getUncertaintyMethod)),
    ROUND("round", Comparator.comparingInt(TrainingRow::getRound)),
    TARGET("target", Comparator.comparingInt(TrainingRow::getTargetNumUpdates)),
    PARTICIPANTS("participants", Comparator.comparingInt((TrainingRow r) -> r.getParticipants().size())),
    LAST_UPDATE("updated", Comparator.comparing(TrainingRow::getLastUpdate,
            Comparator.nullsFirst(Comparator.naturalOrder())));

    /** Newest first is what an operator wants to see on arrival. */
    public static final TrainingSort DEFAULT = LAST_UPDATE;

    private final String parameter;
    private final Comparator<TrainingRow> order;

    TrainingSort(String parameter, Comparator<TrainingRow> order) {
        this.parameter = parameter;
        this.order = order;
    }

    private static Comparator<TrainingRow> text(Function<TrainingRow, String> key) {
        return Comparator.comparing(r -> key.apply(r).toLowerCase(Locale.ROOT));
    }

    public String parameter() {
        return parameter;
    }

    /** The order for this column; the id breaks ties in the same direction. */
    public Comparator<TrainingRow> comparator(boolean ascending) {
        Comparator<TrainingRow> c = order.thenComparing(r -> r.getId().toString());
        return ascending ? c : c.reversed();
    }

    public static TrainingSort fromParameter(String name) {
        for (TrainingSort s : values()) {
            if (s.parameter.equals(name)) {
                return s;
            }
        }
        return DEFAULT;
    }
}
