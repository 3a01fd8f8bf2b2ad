package org.flserver.round;

import java.util.UUID;

/**
 * CDI event fired when a transaction inserts an aggregation job; the worker observes it after the
 * commit and looks for work at once instead of waiting for its next poll.
 */
public record JobQueued(UUID trainingId) {
}
