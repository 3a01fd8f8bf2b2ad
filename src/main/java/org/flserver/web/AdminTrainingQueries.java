package org.flserver.web;

import jakarta.ejb.EJB;
import jakarta.ejb.Stateless;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.io.StringReader;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.flserver.aggregation.DpSettings;
import org.flserver.metric.Metric;
import org.flserver.model.LocalModel;
import org.flserver.model.SwagStatistics;
import org.flserver.notification.NotificationLog;
import org.flserver.platform.Jsonp;
import org.flserver.round.AggregationJob;
import org.flserver.round.CollectionPhase;
import org.flserver.round.ModelVersion;
import org.flserver.round.RoundPhase;
import org.flserver.round.RoundQueries;
import org.flserver.round.TrainingRound;
import org.flserver.training.AggregationOptions;
import org.flserver.training.Training;
import org.flserver.user.User;
import org.flserver.web.TrainingProgressView.Deadline;
import org.flserver.web.TrainingProgressView.Job;
import org.flserver.web.TrainingProgressView.MetricMean;
import org.flserver.web.TrainingProgressView.NotificationLine;
import org.flserver.web.TrainingProgressView.PhaseLine;
import org.flserver.web.TrainingProgressView.ParticipantStatus;
import org.flserver.web.TrainingProgressView.Version;
import org.flserver.web.TrainingProgressView.Update;

/**
 * Read-only look-ups for the admin screens. They live here, not in the trainings service, because
 * the admin pages see every training (the API shows a user only their own) and never change one;
 * results are copied into view objects inside the transaction, so pages never load lazily.
 */
@Stateless
public class AdminTrainingQueries {

    @PersistenceContext
    EntityManager em;

    @EJB
    RoundQueries rounds;

    @EJB
    NotificationLog notificationLog;

    /** Every training with its model, actor and participants, in no particular order (the page sorts). */
    public List<TrainingRow> trainings() {
        // Fetch joins: one query for the whole table instead of one per row and association.
        return em.createQuery("SELECT DISTINCT t FROM Training t JOIN FETCH t.model m JOIN FETCH t.actor "
                        + "LEFT JOIN FETCH t.participants", Training.class)
                .getResultList().stream().map(TrainingRow::new).toList();
    }

    /** What the rule, optimizer and DP decided for one version, in one line (api.md §6.7). */
    static String aggregationText(ModelVersion v) {
        List<String> parts = new ArrayList<>();
        if (v.getAggregationReport() != null) {
            try (JsonReader reader = Jsonp.createReader(new StringReader(v.getAggregationReport()))) {
                JsonObject report = reader.readObject();
                int selected = report.getJsonArray("selected").size();
                parts.add("rule " + report.getString("rule") + ", " + selected + " of " + report.getInt("clients")
                        + " updates selected"
                        + (report.containsKey("trimmed_per_side") ? ", " + report.getInt("trimmed_per_side")
                        + " trimmed per side" : ""));
            }
        }
        if (v.getOptimizerSteps() != null) {
            parts.add("optimizer step " + v.getOptimizerSteps() + (v.getOptimizerStateSha256() == null ? ""
                    : ", state " + v.getOptimizerStateSha256()));
        }
        if (v.getDpRounds() != null) {
            parts.add(String.format(Locale.ROOT, "DP noise σ = %.6g, ε = %s after %d round(s)", v.getDpNoiseStddev(),
                    epsilonText(v.getDpEpsilon()), v.getDpRounds()));
        }
        return String.join("; ", parts);
    }

    /**
     * ε spent so far for the training's δ (the newest version its own jobs made), or empty without
     * options.dp. The model's history may begin with versions of an earlier, deleted training on the
     * same model, whose rounds this training did not spend.
     */
    static String privacy(Training training, List<RoundQueries.VersionHistory> history, Set<Long> trainingJobs) {
        DpSettings dp = AggregationOptions.of(training).dp();
        if (dp == null) {
            return "";
        }
        ModelVersion last = history.stream().map(RoundQueries.VersionHistory::version)
                .filter(v -> v.getDpRounds() != null && trainingJobs.contains(v.getJobId()))
                .reduce((a, b) -> b).orElse(null);
        if (last == null) {
            return String.format(Locale.ROOT, "ε = 0 for δ = %.3g (no DP round yet)", dp.delta());
        }
        return String.format(Locale.ROOT, "ε = %s for δ = %.3g after %d DP round(s) (noise multiplier %.4g, clip norm %.4g)",
                epsilonText(last.getDpEpsilon()), dp.delta(), last.getDpRounds(), dp.noiseMultiplier(), dp.clipNorm());
    }

    private static String epsilonText(Double epsilon) {
        return epsilon == null || !Double.isFinite(epsilon) ? "∞" : String.format(Locale.ROOT, "%.4f", epsilon);
    }

    public TrainingProgressView progress(UUID trainingId) {
        Training training = em.find(Training.class, trainingId);
        Optional<TrainingRound> state = rounds.roundOf(trainingId);
        Map<String, SortedMap<Integer, Double>> series = new TreeMap<>();
        List<MetricMean> means = new ArrayList<>();
        for (Object[] row : em.createQuery("SELECT m.step, m.key, AVG(m.valueFloat), COUNT(m) FROM Metric m"
                        + " WHERE m.model = :model AND m.valueFloat IS NOT NULL GROUP BY m.step, m.key"
                        + " ORDER BY m.step, m.key", Object[].class)
                .setParameter("model", training.getModel()).getResultList()) {
            int step = ((Number) row[0]).intValue();
            double mean = ((Number) row[2]).doubleValue();
            series.computeIfAbsent((String) row[1], k -> new TreeMap<>()).put(step, mean);
            means.add(new MetricMean(step, (String) row[1], mean, ((Number) row[3]).intValue()));
        }
        List<RoundQueries.VersionHistory> history = rounds.history(training.getModel().getId());
        List<Version> versions = history.stream()
                .map(h -> new Version(h.version().getRound(), h.version().getWeightsSha256(),
                        h.version().getWeightsSize(), Times.text(h.version().getCreatedAt()), h.version().getJobId(),
                        h.updates().stream().map(p -> new Update(p.getKind().name(), p.getOwnerUsername(),
                                p.getUpdateRound(), p.getSampleSize(), String.format(Locale.ROOT, "%.4f", p.getWeight()),
                                p.getWeightsSha256())).toList(), aggregationText(h.version())))
                .toList();
        List<AggregationJob> trainingJobs = rounds.jobs(trainingId);
        String privacy = privacy(training, history,
                trainingJobs.stream().map(AggregationJob::getId).collect(Collectors.toSet()));
        List<Job> jobs = trainingJobs.stream()
                .map(j -> new Job(j.getId(), j.getKind().name(), j.getRound(), j.getStatus().name(), j.getAttempts(),
                        j.getLeaseOwner() == null ? "" : j.getLeaseOwner(), j.getError() == null ? "" : j.getError()))
                .toList();
        List<CollectionPhase> phases = rounds.phases(trainingId);
        Map<UUID, String> names = new HashMap<>();
        List<PhaseLine> phaseLines = phases.stream().map(p -> new PhaseLine(p.getRound(), p.getPhase().name(),
                p.getStatus().name(), Times.text(p.getOpenedAt()), p.getDueAt() == null ? "" : Times.text(p.getDueAt()),
                p.getClosedAt() == null ? "" : Times.text(p.getClosedAt()), usernames(p.getDelivered(), names),
                usernames(p.getMissing(), names), p.getReason() == null ? "" : p.getReason())).toList();
        List<NotificationLine> notifications = notificationLog(trainingId, phases);
        if (state.isEmpty()) {
            return new TrainingProgressView(null, "", "", "", List.of(), MetricChart.svg(series), means, versions,
                    jobs, notifications, null, phaseLines, privacy);
        }
        TrainingRound r = state.get();
        Optional<CollectionPhase> open = phases.stream()
                .filter(p -> p.getStatus() == CollectionPhase.Status.OPEN).reduce((a, b) -> b);
        Deadline deadline = open.filter(p -> p.getDueAt() != null).map(p -> new Deadline(Times.text(p.getDueAt()),
                remaining(p.getDueAt()))).orElse(null);
        return new TrainingProgressView(r.getRound(), r.getPhase().name(), Times.text(r.getPhaseStarted()),
                waitingFor(r.getPhase()), participantStatus(training, r, phases), MetricChart.svg(series), means,
                versions, jobs, notifications, deadline, phaseLines, privacy);
    }

    /**
     * The training's outbox in queue order, with a line of the server's own at the moment a phase
     * closed at its deadline or failed below the quorum (design.md §5.4): why the next notifications
     * went to fewer participants, or why no TRAINING_FINISHED followed.
     */
    private List<NotificationLine> notificationLog(UUID trainingId, List<CollectionPhase> phases) {
        record Timed(OffsetDateTime at, NotificationLine line) {
        }
        List<Timed> lines = new ArrayList<>();
        notificationLog.forTraining(trainingId).forEach(n -> lines.add(new Timed(n.createdAt(),
                new NotificationLine(n.id(), n.type().name(), n.receiverUsername(), n.status().name(), n.attempts(),
                        n.httpStatus() == null ? "" : "HTTP " + n.httpStatus(), Times.text(n.createdAt()),
                        n.lastError() == null ? "" : n.lastError()))));
        for (CollectionPhase p : phases) {
            if (p.getStatus() == CollectionPhase.Status.DEADLINE || p.getStatus() == CollectionPhase.Status.BELOW_QUORUM) {
                String type = p.getStatus() == CollectionPhase.Status.DEADLINE ? "PHASE_CLOSED_AT_DEADLINE"
                        : "TRAINING_FAILED_BELOW_QUORUM";
                lines.add(new Timed(p.getClosedAt(), new NotificationLine(0, type, "(server)", p.getStatus().name(), 0,
                        "", Times.text(p.getClosedAt()), p.getReason() == null ? "" : p.getReason())));
            }
        }
        // stable: a server line closes a phase before the notifications its transaction queued
        lines.sort(Comparator.comparing(Timed::at, Comparator.nullsLast(Comparator.naturalOrder())));
        return lines.stream().map(Timed::line).toList();
    }

    private static String remaining(OffsetDateTime due) {
        long millis = Duration.between(OffsetDateTime.now(), due).toMillis();
        return millis >= 0 ? String.format(Locale.ROOT, "%.1f s left", millis / 1000.0)
                : String.format(Locale.ROOT, "passed %.1f s ago, closing", -millis / 1000.0);
    }

    private String usernames(List<UUID> ids, Map<UUID, String> cache) {
        if (ids.isEmpty()) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        for (UUID id : ids) {
            String name = cache.computeIfAbsent(id, k -> {
                User u = em.find(User.class, k);
                return u == null ? k.toString() : u.getUsername();
            });
            out.append(out.length() == 0 ? "" : ", ").append(name);
        }
        return out.toString();
    }

    private static String waitingFor(RoundPhase phase) {
        return switch (phase) {
            case UPDATES -> "local models of the participants";
            case AGGREGATING -> "the aggregation job";
            case SWAG -> "SWAG moments of the participants";
            case SWAG_AGGREGATING -> "the aggregation of the SWAG moments";
            case TESTING -> "test metrics of the participants";
            case FINISHED, FAILED -> "nothing (the training has ended)";
        };
    }

    /**
     * Per participant, whether what the phase waits for has arrived for the current round. With
     * round options only the participants the phase invited are expected; the others are listed
     * as not invited.
     */
    private List<ParticipantStatus> participantStatus(Training training, TrainingRound r, List<CollectionPhase> phases) {
        RoundPhase kind = switch (r.getPhase()) {
            case AGGREGATING -> RoundPhase.UPDATES;
            case SWAG_AGGREGATING -> RoundPhase.SWAG;
            default -> r.getPhase();
        };
        Optional<List<UUID>> invited = phases.stream()
                .filter(p -> p.getRound() == r.getRound() && p.getPhase() == kind)
                .findFirst().map(CollectionPhase::getExpected);
        Map<UUID, String> delivered = new HashMap<>();
        int round = r.getRound();
        switch (r.getPhase()) {
            case UPDATES, AGGREGATING -> em.createQuery("SELECT l FROM LocalModel l WHERE l.baseModel = :model"
                            + " AND l.round = :round", LocalModel.class)
                    .setParameter("model", training.getModel()).setParameter("round", round).getResultList()
                    .forEach(l -> delivered.put(l.getOwner().getId(), "local model uploaded " + Times.text(
                            l.getCreatedAt()) + ", sample size " + l.getSampleSize()));
            case SWAG, SWAG_AGGREGATING -> em.createQuery("SELECT s FROM SwagStatistics s WHERE s.model = :model"
                            + " AND s.round = :round", SwagStatistics.class)
                    .setParameter("model", training.getModel()).setParameter("round", round).getResultList()
                    .forEach(s -> delivered.put(s.getOwner().getId(), "SWAG moments uploaded " + Times.text(
                            s.getCreatedAt()) + ", sample size " + s.getSampleSize()));
            case TESTING -> em.createQuery("SELECT m FROM Metric m WHERE m.model = :model AND m.step = :step",
                            Metric.class)
                    .setParameter("model", training.getModel()).setParameter("step", round).getResultList()
                    .forEach(m -> delivered.merge(m.getReporter().getId(), "reported " + m.getKey(),
                            (a, b) -> a + ", " + b.substring("reported ".length())));
            default -> {
                return training.getParticipants().stream()
                        .map(u -> new ParticipantStatus(u.getUsername(), true, "")).sorted(
                                Comparator.comparing(ParticipantStatus::username)).toList();
            }
        }
        return training.getParticipants().stream()
                .map(u -> invited.isPresent() && !invited.get().contains(u.getId())
                        ? new ParticipantStatus(u.getUsername(), false, "not invited to this round")
                        : new ParticipantStatus(u.getUsername(), delivered.containsKey(u.getId()),
                        delivered.getOrDefault(u.getId(), "missing")))
                .sorted(Comparator.comparing(ParticipantStatus::username))
                .toList();
    }

    public Optional<TrainingDetailView> training(UUID id) {
        List<Training> found = em.createQuery("SELECT t FROM Training t JOIN FETCH t.model m "
                        + "JOIN FETCH m.owner JOIN FETCH t.actor LEFT JOIN FETCH t.participants WHERE t.id = :id",
                        Training.class)
                .setParameter("id", id).getResultList();
        return found.stream().findFirst().map(TrainingDetailView::new);
    }
}
