package org.flserver.web;

import jakarta.ejb.EJB;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.Optional;
import java.util.UUID;
import org.flserver.metric.Metric;
import org.flserver.model.LocalModel;
import org.flserver.model.SwagStatistics;
import org.flserver.notification.NotificationLog;
import org.flserver.round.RoundPhase;
import org.flserver.round.RoundQueries;
import org.flserver.round.TrainingRound;
import org.flserver.training.Training;
import org.flserver.web.TrainingProgressView.Job;
import org.flserver.web.TrainingProgressView.MetricMean;
import org.flserver.web.TrainingProgressView.NotificationLine;
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

    /** Where the training stands (empty parts before it was started). */
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
        List<Version> versions = rounds.history(training.getModel().getId()).stream()
                .map(h -> new Version(h.version().getRound(), h.version().getWeightsSha256(),
                        h.version().getWeightsSize(), Times.text(h.version().getCreatedAt()), h.version().getJobId(),
                        h.updates().stream().map(p -> new Update(p.getKind().name(), p.getOwnerUsername(),
                                p.getUpdateRound(), p.getSampleSize(), String.format(Locale.ROOT, "%.4f", p.getWeight()),
                                p.getWeightsSha256())).toList()))
                .toList();
        List<Job> jobs = rounds.jobs(trainingId).stream()
                .map(j -> new Job(j.getId(), j.getKind().name(), j.getRound(), j.getStatus().name(), j.getAttempts(),
                        j.getLeaseOwner() == null ? "" : j.getLeaseOwner(), j.getError() == null ? "" : j.getError()))
                .toList();
        List<NotificationLine> notifications = notificationLog.forTraining(trainingId).stream()
                .map(n -> new NotificationLine(n.id(), n.type().name(), n.receiverUsername(), n.status().name(),
                        n.attempts(), n.httpStatus() == null ? "" : "HTTP " + n.httpStatus(), Times.text(n.createdAt()),
                        n.lastError() == null ? "" : n.lastError()))
                .toList();
        if (state.isEmpty()) {
            return new TrainingProgressView(null, "", "", "", List.of(), MetricChart.svg(series), means, versions,
                    jobs, notifications);
        }
        TrainingRound r = state.get();
        return new TrainingProgressView(r.getRound(), r.getPhase().name(), Times.text(r.getPhaseStarted()),
                waitingFor(r.getPhase()), participantStatus(training, r), MetricChart.svg(series), means, versions,
                jobs, notifications);
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

    /** Per participant, whether what the phase waits for has arrived for the current round. */
    private List<ParticipantStatus> participantStatus(Training training, TrainingRound r) {
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
                .map(u -> new ParticipantStatus(u.getUsername(), delivered.containsKey(u.getId()),
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
