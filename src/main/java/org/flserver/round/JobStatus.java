package org.flserver.round;

/** Life of an {@link AggregationJob}: claimed and run while PENDING, then DONE (or FAILED) once. */
public enum JobStatus {
    PENDING,
    DONE,
    FAILED
}
