package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.SwagStatistics;
import org.flserver.training.Training;

/**
 * The round engine (api.md §7 with §15, design.md §5): the only code that changes a started
 * training's state. Services call it inside their own transaction, with the training's row already
 * locked ({@code PESSIMISTIC_WRITE}), right after they stored what arrived; everything it decides —
 * phase, state, jobs, notifications — commits or rolls back with that transaction.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.MANDATORY)
public class RoundEngine {

    /** The training was just moved I → O: TRAINING_START, then the first UPDATE_ROUND_START. */
    public void trainingStarted(Training training) {
    }

    /** A participant's local model for the current round was stored (already persisted and flushed). */
    public void localModelReceived(Training training, LocalModel update) {
    }

    /** Metrics for {@code model} at {@code step} were stored by a user (the training's own model). */
    public void metricsReported(Training training, GlobalModel model, int step) {
    }

    /** A participant's SWAG statistics for the current round were stored (persisted and flushed). */
    public void swagStatisticsReceived(Training training, SwagStatistics statistics) {
    }
}
