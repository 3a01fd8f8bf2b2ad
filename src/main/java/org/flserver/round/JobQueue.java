package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.LocalModel;
import org.flserver.model.SwagStatistics;
import org.flserver.training.AggregationOptions;
import org.flserver.training.RoundOptions;
import org.flserver.training.Training;

/**
 * The durable side of aggregation jobs: claiming with a lease, renewing it, and recording the
 * outcome. Each method is its own transaction, so the aggregation between claim and completion runs
 * without one (it may take minutes) and a crash at any point leaves either a PENDING job whose lease
 * will expire — and which any instance then claims again — or a completed one.
 *
 * <p>Claiming is a conditional UPDATE (status PENDING and lease absent or expired), which is atomic
 * on every database: of several workers on several instances, exactly one gets the row. Completion
 * locks the training row first and requires the job to be still PENDING, so even two workers that
 * both ran the same job (a lease expired under a slow one) complete it once.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
public class JobQueue {

    /**
     * Claimed job plus everything the aggregation needs, read in the claiming transaction.
     *
     * @param options              the training's rule, optimizer and DP settings
     * @param optimizerStateSha256 the optimizer state that belongs to the template (the current
     *                             global model's version), null before the first step
     * @param dpRoundsBefore       DP-FedAvg rounds recorded up to the template's version
     * @param samplingRate         q of the RDP accountant: clients_per_round / participants when the
     *                             training samples, else 1
     */
    public record ClaimedJob(long id, UUID trainingId, int round, JobKind kind, int attempts, String templateSha256,
                             List<JobInput> inputs, AggregationOptions options, String optimizerStateSha256,
                             int dpRoundsBefore, double samplingRate) {
    }

    @PersistenceContext
    EntityManager em;

    @Inject
    RoundEngine engine;

    /** Claims the oldest claimable job for {@code owner} for {@code lease}, with its inputs. */
    public Optional<ClaimedJob> claimNext(String owner, Duration lease) {
        OffsetDateTime now = OffsetDateTime.now();
        List<Long> candidates = em.createQuery("SELECT j.id FROM AggregationJob j WHERE j.status = :pending"
                        + " AND (j.leaseUntil IS NULL OR j.leaseUntil < :now) ORDER BY j.id", Long.class)
                .setParameter("pending", JobStatus.PENDING).setParameter("now", now)
                .setMaxResults(8).getResultList();
        for (Long id : candidates) {
            int claimed = em.createQuery("UPDATE AggregationJob j SET j.leaseOwner = :owner, j.leaseUntil = :until,"
                            + " j.attempts = j.attempts + 1 WHERE j.id = :id AND j.status = :pending"
                            + " AND (j.leaseUntil IS NULL OR j.leaseUntil < :now)")
                    .setParameter("owner", owner).setParameter("until", now.plus(lease))
                    .setParameter("id", id).setParameter("pending", JobStatus.PENDING).setParameter("now", now)
                    .executeUpdate();
            if (claimed == 1) {
                AggregationJob job = em.find(AggregationJob.class, id);
                em.refresh(job);
                return Optional.of(describe(job));
            }
        }
        return Optional.empty();
    }

    /** Extends the lease while the owner still holds it; false when it was lost (or the job is gone). */
    public boolean renew(long jobId, String owner, Duration lease) {
        return em.createQuery("UPDATE AggregationJob j SET j.leaseUntil = :until WHERE j.id = :id"
                        + " AND j.leaseOwner = :owner AND j.status = :pending")
                .setParameter("until", OffsetDateTime.now().plus(lease)).setParameter("id", jobId)
                .setParameter("owner", owner).setParameter("pending", JobStatus.PENDING)
                .executeUpdate() == 1;
    }

    /** Records a MODEL job's output; false when someone else completed it first (nothing changes then). */
    public boolean completeModel(long jobId, String sha256, long size, List<JobInput> inputs,
                                 AggregationOutcome outcome) {
        Locked locked = lock(jobId);
        if (locked == null) {
            return false;
        }
        engine.modelAggregated(locked.training, locked.job, sha256, size, inputs, outcome);
        return true;
    }

    /** Records a SWAG_MOMENTS job's output; false when someone else completed it first. */
    public boolean completeMoments(long jobId, String firstSha256, String secondSha256, List<JobInput> inputs) {
        Locked locked = lock(jobId);
        if (locked == null) {
            return false;
        }
        engine.momentsAggregated(locked.training, locked.job, firstSha256, secondSha256, inputs);
        return true;
    }

    /**
     * A run failed. With attempts left, the lease is set to expire after {@code retryAfter} so that
     * any worker retries then; without, the job fails for good and the training goes to E.
     */
    public void failed(long jobId, String reason, boolean permanent, int maxAttempts, Duration retryAfter) {
        Locked locked = lock(jobId);
        if (locked == null) {
            return;
        }
        if (permanent || locked.job.getAttempts() >= maxAttempts) {
            engine.jobFailed(locked.training, locked.job, reason);
            return;
        }
        em.createQuery("UPDATE AggregationJob j SET j.leaseOwner = NULL, j.leaseUntil = :retry, j.error = :error"
                        + " WHERE j.id = :id")
                .setParameter("retry", OffsetDateTime.now().plus(retryAfter))
                .setParameter("error", reason.length() > 2000 ? reason.substring(0, 2000) : reason)
                .setParameter("id", jobId).executeUpdate();
    }

    private record Locked(Training training, AggregationJob job) {
    }

    /** Locks the job's training row, then re-reads the job: null when it is gone or no longer PENDING. */
    private Locked lock(long jobId) {
        AggregationJob job = em.find(AggregationJob.class, jobId);
        if (job == null) {
            return null;
        }
        Training training = em.find(Training.class, job.getTrainingId(), LockModeType.PESSIMISTIC_WRITE);
        if (training == null) {
            return null;
        }
        em.refresh(job);
        return job.getStatus() == JobStatus.PENDING ? new Locked(training, job) : null;
    }

    /** Whether one of the training's own jobs wrote the version (the version a training starts from has no job). */
    private boolean madeBy(ModelVersion version, Training training) {
        if (version.getJobId() == null) {
            return false;
        }
        AggregationJob maker = em.find(AggregationJob.class, version.getJobId());
        return maker != null && maker.getTrainingId().equals(training.getId());
    }

    private ClaimedJob describe(AggregationJob job) {
        Training training = em.find(Training.class, job.getTrainingId());
        String template = training.getModel().getWeightsSha256();
        List<JobInput> inputs;
        if (job.getKind() == JobKind.MODEL) {
            inputs = em.createQuery("SELECT l FROM LocalModel l JOIN FETCH l.owner WHERE l.baseModel = :model"
                            + " AND l.round = :round ORDER BY l.createdAt, l.id", LocalModel.class)
                    .setParameter("model", training.getModel()).setParameter("round", job.getRound())
                    .getResultList().stream()
                    .map(l -> new JobInput(l.getId(), l.getOwner().getId(), l.getOwner().getUsername(), l.getRound(),
                            l.getSampleSize(), l.getWeightsSha256(), null))
                    .toList();
        } else {
            inputs = em.createQuery("SELECT s FROM SwagStatistics s JOIN FETCH s.owner WHERE s.model = :model"
                            + " AND s.round = :round ORDER BY s.createdAt, s.id", SwagStatistics.class)
                    .setParameter("model", training.getModel()).setParameter("round", job.getRound())
                    .getResultList().stream()
                    .map(s -> new JobInput(s.getId(), s.getOwner().getId(), s.getOwner().getUsername(), s.getRound(),
                            s.getSampleSize(), s.getFirstMomentSha256(), s.getSecondMomentSha256()))
                    .toList();
        }
        // The version of the template (the current global model) carries the optimizer state that
        // belongs to it: the pair was made current together (design.md §4.4).
        ModelVersion current = em.createQuery("SELECT v FROM ModelVersion v WHERE v.modelId = :model"
                        + " AND v.weightsSha256 = :sha ORDER BY v.round DESC", ModelVersion.class)
                .setParameter("model", training.getModel().getId()).setParameter("sha", template)
                .setMaxResults(1).getResultList().stream().findFirst().orElse(null);
        // ... but only a version this training's own jobs made: a model outlives its trainings, and a
        // new training on it (the earlier one deleted) starts with a fresh optimizer and no DP rounds
        // spent, not with what the earlier training left (its optimizer may even be another one).
        if (current != null && !madeBy(current, training)) {
            current = null;
        }
        String state = current == null ? null : current.getOptimizerStateSha256();
        int dpRounds = current == null || current.getDpRounds() == null ? 0 : current.getDpRounds();
        int participants = training.getParticipants().size();
        Integer perRound = RoundOptions.of(training).clientsPerRound();
        double q = perRound == null || participants == 0 ? 1.0 : Math.min(1.0, perRound / (double) participants);
        return new ClaimedJob(job.getId(), job.getTrainingId(), job.getRound(), job.getKind(), job.getAttempts(),
                template, inputs, AggregationOptions.of(training), state, dpRounds, q);
    }
}
