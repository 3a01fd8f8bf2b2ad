package org.flserver.round;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * Where a started training stands: the round being worked on and the {@link RoundPhase}. Kept
 * beside the training row (not in it) because the Training entity holds exactly the seed's fields;
 * it is only changed under the training's row lock, by {@link RoundEngine}.
 *
 * <p>{@code round} is the global model's round while updates are collected; after an aggregation
 * the global model's round is one higher and so is this one (test rounds and SWAG rounds carry the
 * round number the notifications announce).
 */
@Entity
@Table(name = "training_round")
public class TrainingRound {

    @Id
    @Column(name = "training_id")
    private UUID trainingId;

    @Column(nullable = false)
    private int round;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private RoundPhase phase;

    @Column(name = "phase_started", nullable = false)
    private OffsetDateTime phaseStarted;

    protected TrainingRound() {
    }

    public TrainingRound(UUID trainingId, int round, RoundPhase phase) {
        this.trainingId = trainingId;
        this.round = round;
        this.phase = phase;
        this.phaseStarted = OffsetDateTime.now();
    }

    public UUID getTrainingId() {
        return trainingId;
    }

    public int getRound() {
        return round;
    }

    public RoundPhase getPhase() {
        return phase;
    }

    public OffsetDateTime getPhaseStarted() {
        return phaseStarted;
    }

    /** Moves to another phase (and round); the caller holds the training's row lock. */
    public void moveTo(int round, RoundPhase phase) {
        this.round = round;
        this.phase = phase;
        this.phaseStarted = OffsetDateTime.now();
    }
}
