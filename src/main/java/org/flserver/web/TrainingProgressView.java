package org.flserver.web;

import java.util.List;

/**
 * Where a training stands, for the admin detail page: the current round and what
 * the engine waits for, who has delivered and who is missing, the metrics of the test rounds (as a
 * chart and a table of means), every version of the global model with the updates it was built
 * from, the aggregation jobs, the notification log, and for trainings with round options the
 * running deadline and the phases that closed by deadline, and for trainings with {@code options.dp}
 * the privacy spent so far ({@code privacy}: ε for the configured δ, empty otherwise). Plain values copied inside the query's
 * transaction, so the page never loads lazily.
 */
public record TrainingProgressView(Integer round, String phase, String phaseStarted, String waitingFor,
                                   List<ParticipantStatus> participants, String metricChartSvg,
                                   List<MetricMean> metricMeans, List<Version> versions, List<Job> jobs,
                                   List<NotificationLine> notifications, Deadline deadline, List<PhaseLine> phases,
                                   String privacy) {

    /**
     * The open phase's deadline (trainings with {@code round_timeout_seconds}, design.md §5.4): when,
     * and how far away at the moment the page was rendered (the page reloads itself every second
     * while a deadline runs, so the figure counts down without any script).
     */
    public record Deadline(String at, String remaining) {
    }

    /** A stored collection phase: how it closed, who delivered, who was missing, and why. */
    public record PhaseLine(int round, String phase, String status, String openedAt, String dueAt, String closedAt,
                            String delivered, String missing, String reason) {
        public boolean isByDeadline() {
            return "DEADLINE".equals(status) || "BELOW_QUORUM".equals(status);
        }
    }

    /** A participant and whether it delivered what the current phase waits for. */
    public record ParticipantStatus(String username, boolean delivered, String detail) {
    }

    /** The mean of a metric over the participants that reported it in one round. */
    public record MetricMean(int step, String key, double mean, int reporters) {
    }

    /**
     * One weights file of the global model and the updates that built it; {@code aggregation} says
     * what the rule, optimizer and DP decided (empty for trainings without those options).
     */
    public record Version(int round, String weightsSha256, long weightsSize, String createdAt, Long jobId,
                          List<Update> updates, String aggregation) {
    }

    /** One update that went into a version. */
    public record Update(String kind, String owner, int round, int sampleSize, String weight, String weightsSha256) {
    }

    /** One aggregation job. */
    public record Job(long id, String kind, int round, String status, int attempts, String leaseOwner,
                      String error) {
    }

    /** One notification of the training's outbox. */
    public record NotificationLine(long id, String type, String receiver, String status, int attempts,
                                   String httpStatus, String createdAt, String detail) {
    }

    public boolean isStarted() {
        return round != null;
    }

    public boolean isDeadlineRunning() {
        return deadline != null;
    }

    /** The phases that closed at their deadline (with the quorum or below it). */
    public List<PhaseLine> getPhasesClosedByDeadline() {
        return phases.stream().filter(PhaseLine::isByDeadline).toList();
    }
}
