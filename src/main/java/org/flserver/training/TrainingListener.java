package org.flserver.training;

import jakarta.inject.Inject;
import jakarta.persistence.PostPersist;

/**
 * The seed's {@code post_save_training}: once a new training is stored, a positive
 * {@code options.daisy_chain_period} P multiplies its {@code target_num_updates} by P (a daisy-chain
 * training of T aggregation rounds has T·P update rounds).
 *
 * <p>EclipseLink calls {@code @PostPersist} after the INSERT has run, and a field changed here is
 * not written by the ongoing flush (docs/design.md §8). So the listener both sets the field (for the
 * managed instance) and writes it with an UPDATE through {@link TrainingTargetWriter}, inside the
 * same transaction. This requires the INSERT to be flushed explicitly right after {@code persist}
 * ({@link TrainingService} does), so that the callback never fires during commit.
 */
public class TrainingListener {

    @Inject
    TrainingTargetWriter targetWriter;

    @PostPersist
    void applyDaisyChainPeriod(Training training) {
        int period = training.daisyChainPeriod();
        if (period <= 0) {
            return;
        }
        int target = Math.multiplyExact(training.getTargetNumUpdates(), period);
        training.setTargetNumUpdates(target);
        targetWriter.writeTarget(training.getId(), target);
    }
}
