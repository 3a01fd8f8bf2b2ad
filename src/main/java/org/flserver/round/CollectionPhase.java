package org.flserver.round;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.UUID;

/**
 * One collection phase of a training that uses round options (design.md §5.4): the updates of a
 * training round, the metrics of a test round or the moments of a SWAG round — who is expected,
 * the deadline (the durable row is the deadline; a timer in memory only wakes the poller), and how
 * the phase closed. Changed only under the training's row lock by {@link RoundEngine}, except for
 * the lease, which the deadline poller sets in a transaction of its own before it locks anything.
 *
 * <p>The unique key (training, round, phase) makes a second row for one phase impossible, and
 * closing requires status {@link Status#OPEN}: a phase closes once, whoever gets there first — the
 * last upload or the deadline, on this instance or another, before or after a restart.
 */
@Entity
@Table(name = "collection_phase")
public class CollectionPhase {

    /** How a phase stands. */
    public enum Status {
        /** Collecting; closes when every expected participant delivered or at the deadline. */
        OPEN,
        /** Every expected participant delivered before the deadline. */
        COMPLETE,
        /** Closed at the deadline with the quorum: the round went on with what arrived. */
        DEADLINE,
        /** At the deadline fewer than the quorum had delivered: the training went to E. */
        BELOW_QUORUM,
        /** The training ended or failed for another reason while the phase was open. */
        ENDED
    }

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "training_id", nullable = false)
    private UUID trainingId;

    @Column(nullable = false)
    private int round;

    /** UPDATES, SWAG or TESTING: the phases of {@link RoundPhase} that wait for participants. */
    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private RoundPhase phase;

    /** Comma-separated user ids, in invitation order. */
    @Column(nullable = false)
    private String expected;

    @Column(name = "opened_at", nullable = false)
    private OffsetDateTime openedAt;

    @Column(name = "due_at")
    private OffsetDateTime dueAt;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private Status status;

    @Column(name = "lease_owner", length = 64)
    private String leaseOwner;

    @Column(name = "lease_until")
    private OffsetDateTime leaseUntil;

    @Column(name = "closed_at")
    private OffsetDateTime closedAt;

    /** Comma-separated user ids of those expected participants who delivered, when closed. */
    @Column
    private String delivered;

    /** Comma-separated user ids of those expected participants who did not, when closed. */
    @Column
    private String missing;

    @Column(length = 2000)
    private String reason;

    protected CollectionPhase() {
    }

    public CollectionPhase(UUID trainingId, int round, RoundPhase phase, List<UUID> expected,
                           OffsetDateTime openedAt, OffsetDateTime dueAt) {
        this.trainingId = trainingId;
        this.round = round;
        this.phase = phase;
        this.expected = join(expected);
        this.openedAt = openedAt;
        this.dueAt = dueAt;
        this.status = Status.OPEN;
    }

    /** Closes the phase, recording who delivered and who did not (and why, for a deadline). */
    void close(Status status, Collection<UUID> delivered, Collection<UUID> missing, String reason) {
        this.status = status;
        this.closedAt = OffsetDateTime.now();
        this.delivered = join(delivered);
        this.missing = join(missing);
        this.reason = reason == null || reason.length() <= 2000 ? reason : reason.substring(0, 1997) + "...";
        this.leaseOwner = null;
        this.leaseUntil = null;
    }

    public Long getId() {
        return id;
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

    /** The participants this phase invited, in invitation order. */
    public List<UUID> getExpected() {
        return split(expected);
    }

    public OffsetDateTime getOpenedAt() {
        return openedAt;
    }

    /** The deadline, or null when the training has no {@code round_timeout_seconds}. */
    public OffsetDateTime getDueAt() {
        return dueAt;
    }

    public Status getStatus() {
        return status;
    }

    public OffsetDateTime getClosedAt() {
        return closedAt;
    }

    public List<UUID> getDelivered() {
        return split(delivered);
    }

    public List<UUID> getMissing() {
        return split(missing);
    }

    public String getReason() {
        return reason;
    }

    static String join(Collection<UUID> ids) {
        return String.join(",", ids.stream().map(UUID::toString).toList());
    }

    static List<UUID> split(String ids) {
        if (ids == null || ids.isEmpty()) {
            return List.of();
        }
        return new ArrayList<>(Arrays.stream(ids.split(",")).map(UUID::fromString).toList());
    }
}
