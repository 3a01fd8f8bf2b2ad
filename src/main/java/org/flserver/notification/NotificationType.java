package org.flserver.notification;

/**
 * The notifications the server POSTs to participants (api.md §8.1). Round-type notifications
 * announce work; when their delivery fails the round engine acts on it (docs/api.md §8.3, §15.8). The others
 * are informational: a failure is only recorded.
 */
public enum NotificationType {
    TRAINING_START(false),
    UPDATE_ROUND_START(true),
    MODEL_TEST_ROUND(true),
    SWAG_ROUND_START(true),
    TRAINING_FINISHED(false);

    private final boolean roundType;

    NotificationType(boolean roundType) {
        this.roundType = roundType;
    }

    /** Whether a failed delivery has consequences for the training (docs/api.md §8.3). */
    public boolean roundType() {
        return roundType;
    }
}
