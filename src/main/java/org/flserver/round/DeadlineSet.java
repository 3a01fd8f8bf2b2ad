package org.flserver.round;

import java.time.OffsetDateTime;

/**
 * CDI event fired when a transaction opens a phase with a deadline; {@link DeadlineWatch} observes
 * it after the commit and wakes at that moment instead of at its next poll. Only a wake-up: the
 * deadline itself is the {@link CollectionPhase} row (design.md §5.4).
 */
public record DeadlineSet(OffsetDateTime dueAt) {
}
