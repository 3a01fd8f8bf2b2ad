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
import java.util.UUID;

/**
 * A durable unit of aggregation work (design.md §5). It is inserted in the same transaction as the
 * upload that completes a round, so a committed round always has its job, and the unique key
 * (training, round, kind) makes a second one impossible. A worker claims it by setting a lease
 * (owner and expiry); a job whose worker died is claimed again when the lease has expired. The
 * job's output is a pure function of its inputs, so running it twice writes the same file; only
 * the completion — a transition under the training's row lock that requires status PENDING — takes
 * effect, and it takes effect once.
 */
@Entity
@Table(name = "aggregation_job")
public class AggregationJob {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "training_id", nullable = false)
    private UUID trainingId;

    @Column(nullable = false)
    private int round;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private JobKind kind;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private JobStatus status;

    @Column(name = "lease_owner", length = 64)
    private String leaseOwner;

    @Column(name = "lease_until")
    private OffsetDateTime leaseUntil;

    @Column(nullable = false)
    private int attempts;

    @Column(name = "created_at", nullable = false)
    private OffsetDateTime createdAt;

    @Column(name = "finished_at")
    private OffsetDateTime finishedAt;

    @Column(length = 2000)
    private String error;

    protected AggregationJob() {
    }

    public AggregationJob(UUID trainingId, int round, JobKind kind) {
        this.trainingId = trainingId;
        this.round = round;
        this.kind = kind;
        this.status = JobStatus.PENDING;
        this.createdAt = OffsetDateTime.now();
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

    public JobKind getKind() {
        return kind;
    }

    public JobStatus getStatus() {
        return status;
    }

    public String getLeaseOwner() {
        return leaseOwner;
    }

    public OffsetDateTime getLeaseUntil() {
        return leaseUntil;
    }

    public int getAttempts() {
        return attempts;
    }

    public OffsetDateTime getCreatedAt() {
        return createdAt;
    }

    public OffsetDateTime getFinishedAt() {
        return finishedAt;
    }

    public String getError() {
        return error;
    }

    /** Marks the job done (or failed with a reason) and releases its lease. */
    public void finish(JobStatus status, String error) {
        this.status = status;
        this.error = error == null || error.length() <= 2000 ? error : error.substring(0, 2000);
        this.finishedAt = OffsetDateTime.now();
        this.leaseOwner = null;
        this.leaseUntil = null;
    }
}
