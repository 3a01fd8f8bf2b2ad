package org.flserver.round;

/** What an {@link AggregationJob} aggregates. */
public enum JobKind {
    /** The round's local models into the next global weights. */
    MODEL,
    /** The round's SWAG statistics into the SWAG model's moments. */
    SWAG_MOMENTS
}
