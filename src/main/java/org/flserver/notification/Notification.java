package org.flserver.notification;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One row of the outbox: one notification to one receiver (design.md §5). It is written in the
 * transaction of the state change that causes it, so it exists if and only if that change
 * committed; the dispatcher delivers it afterwards. The id is the delivery order per receiver.
 *
 * <p>The endpoint and the exact JSON body are fixed when the row is written: a receiver that
 * changes its endpoint later does not redirect notifications already queued, and what is
 * delivered is exactly what the state change decided. Training and receiver are plain ids, not
 * relations: the dispatcher never needs the entities, and the database's foreign keys (ON DELETE
 * CASCADE) already keep the rows consistent.
 */
@Entity
@Table(name = "notification")
// The head of each receiver's queue that is due and not leased: no older PENDING row of the same
// receiver exists. Ordered by id so the oldest work goes first.
@NamedQuery(name = Notification.DUE, query = "SELECT n.id, n.receiverId FROM Notification n"
        + " WHERE n.status = org.flserver.notification.NotificationStatus.PENDING"
        + " AND n.nextAttemptAt <= :now AND (n.leaseUntil IS NULL OR n.leaseUntil < :now)"
        + " AND NOT EXISTS (SELECT p.id FROM Notification p WHERE p.receiverId = n.receiverId"
        + " AND p.status = org.flserver.notification.NotificationStatus.PENDING AND p.id < n.id)"
        + " ORDER BY n.id")
// The conditional claim is native SQL (CLAIM_SQL below), not JPQL: see there.
@NamedQuery(name = Notification.CANCEL, query = "UPDATE Notification n"
        + " SET n.status = org.flserver.notification.NotificationStatus.CANCELLED, n.finishedAt = :now,"
        + " n.leaseOwner = NULL, n.leaseUntil = NULL"
        + " WHERE n.trainingId = :training AND n.receiverId = :receiver"
        + " AND n.status = org.flserver.notification.NotificationStatus.PENDING")
@NamedQuery(name = Notification.CANCEL_ALL, query = "UPDATE Notification n"
        + " SET n.status = org.flserver.notification.NotificationStatus.CANCELLED, n.finishedAt = :now,"
        + " n.leaseOwner = NULL, n.leaseUntil = NULL"
        + " WHERE n.trainingId = :training"
        + " AND n.status = org.flserver.notification.NotificationStatus.PENDING")
public class Notification {

    static final String DUE = "Notification.due";
    /**
     * The conditional claim: it succeeds for exactly one dispatcher, whatever the instance, because
     * PostgreSQL re-checks the WHERE clause on the row it locks once a concurrent claim of that row
     * has committed. That re-check only sees the new row version in conditions on the UPDATE's own
     * target: EclipseLink turns the same claim written in JPQL (with its NOT EXISTS over the same
     * table) into {@code UPDATE notification SET ... WHERE EXISTS (SELECT t0.id FROM notification t0
     * WHERE <every condition on t0> AND t0.id = notification.id)}, and a sub-select is re-evaluated
     * against the statement's old snapshot — where the row is still unleased. Two instances then both
     * claimed one row and both POSTed it (seen as one SENT row with one attempt that a participant
     * received twice). Here the lease and status conditions are on the target row itself. The NOT
     * EXISTS keeps each receiver's notifications in order: a row committed after the DUE query with a
     * smaller id (a concurrent transaction) goes first.
     */
    static final String CLAIM_SQL = "UPDATE notification SET lease_owner = ?1, lease_until = ?2"
            + " WHERE id = ?3 AND status = 'PENDING' AND next_attempt_at <= ?4"
            + " AND (lease_until IS NULL OR lease_until < ?4)"
            + " AND NOT EXISTS (SELECT 1 FROM notification p WHERE p.receiver_id = notification.receiver_id"
            + " AND p.status = 'PENDING' AND p.id < notification.id)";
    static final String CANCEL = "Notification.cancel";
    static final String CANCEL_ALL = "Notification.cancelAll";

    /** Length of {@code last_error}. */
    static final int ERROR_LENGTH = 500;

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "training_id", nullable = false)
    private UUID trainingId;

    @Column(name = "receiver_id", nullable = false)
    private UUID receiverId;

    @Column(nullable = false, length = 2048)
    private String endpoint;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 32)
    private NotificationType type;

    @Column(nullable = false)
    private String payload;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private NotificationStatus status;

    @Column(nullable = false)
    private int attempts;

    @Column(name = "next_attempt_at", nullable = false)
    private OffsetDateTime nextAttemptAt;

    @Column(name = "lease_owner", length = 64)
    private String leaseOwner;

    @Column(name = "lease_until")
    private OffsetDateTime leaseUntil;

    @Column(name = "http_status")
    private Integer httpStatus;

    @Column(name = "last_error", length = ERROR_LENGTH)
    private String lastError;

    @Column(name = "created_at", nullable = false)
    private OffsetDateTime createdAt;

    @Column(name = "finished_at")
    private OffsetDateTime finishedAt;

    protected Notification() {
    }

    Notification(UUID trainingId, UUID receiverId, String endpoint, NotificationType type, String payload) {
        this.trainingId = trainingId;
        this.receiverId = receiverId;
        this.endpoint = endpoint;
        this.type = type;
        this.payload = payload;
        this.status = NotificationStatus.PENDING;
        this.createdAt = OffsetDateTime.now();
        this.nextAttemptAt = createdAt;
    }

    /** Records one delivery try and what follows from it; releases the lease. */
    void recordTry(DeliveryPolicy.Decision decision, OffsetDateTime now) {
        attempts++;
        httpStatus = decision.httpStatus();
        lastError = shorten(decision.error());
        leaseOwner = null;
        leaseUntil = null;
        status = decision.status();
        if (status.isFinal()) {
            finishedAt = now;
        } else {
            nextAttemptAt = now.plus(decision.retryAfter());
        }
    }

    static String shorten(String error) {
        return error == null || error.length() <= ERROR_LENGTH ? error : error.substring(0, ERROR_LENGTH - 1) + "…";
    }

    public Long getId() {
        return id;
    }

    public UUID getTrainingId() {
        return trainingId;
    }

    public UUID getReceiverId() {
        return receiverId;
    }

    public String getEndpoint() {
        return endpoint;
    }

    public NotificationType getType() {
        return type;
    }

    public String getPayload() {
        return payload;
    }

    public NotificationStatus getStatus() {
        return status;
    }

    public int getAttempts() {
        return attempts;
    }

    public OffsetDateTime getNextAttemptAt() {
        return nextAttemptAt;
    }

    public String getLeaseOwner() {
        return leaseOwner;
    }

    public OffsetDateTime getLeaseUntil() {
        return leaseUntil;
    }

    public Integer getHttpStatus() {
        return httpStatus;
    }

    public String getLastError() {
        return lastError;
    }

    public OffsetDateTime getCreatedAt() {
        return createdAt;
    }

    public OffsetDateTime getFinishedAt() {
        return finishedAt;
    }
}
