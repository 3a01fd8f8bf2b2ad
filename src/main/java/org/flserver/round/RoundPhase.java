package org.flserver.round;

/**
 * What the round engine waits for in a started training (stored in {@code training_round.phase}).
 * The seed's training states say what a participant sees (I/O/C/E/S); the phase says which event
 * moves the training on, so that every event is acted on exactly once (a late metric or a second
 * "last" upload finds the phase already moved and changes nothing).
 */
public enum RoundPhase {
    /** Waiting for every participant's local model of the current round (state O). */
    UPDATES,
    /** An aggregation job of the current round's updates exists and has not completed (locked). */
    AGGREGATING,
    /** SWAG round: waiting for every participant's moments (state S). */
    SWAG,
    /** The moments job runs (state S, locked). */
    SWAG_AGGREGATING,
    /** Test round: waiting for every participant's metrics for the current round (state O). */
    TESTING,
    /** The training completed (state C). */
    FINISHED,
    /** The training failed (state E). */
    FAILED
}
