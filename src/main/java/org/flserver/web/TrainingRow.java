package org.flserver.web;

import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;
import org.flserver.training.Training;
import org.flserver.user.User;

/**
 * One line of the admin trainings list, copied out of the entities inside the query's transaction
 * so the page never touches a lazy association. A class with getters rather than a record because
 * Jakarta EL 5 (EE 10) resolves {@code #{row.state}} through bean getters only.
 */
public class TrainingRow {

    /** Shown times are UTC with seconds: precise enough to tell updates apart, short enough for a table. */
    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'");

    private final UUID id;
    private final String modelName;
    private final String actor;
    private final String state;
    private final String aggregationMethod;
    private final String uncertaintyMethod;
    private final int round;
    private final int targetNumUpdates;
    private final List<String> participants;
    private final OffsetDateTime lastUpdate;

    TrainingRow(Training t) {
        this.id = t.getId();
        this.modelName = t.getModel().getName() == null ? "" : t.getModel().getName();
        this.actor = t.getActor().getUsername();
        this.state = t.getState().label();
        this.aggregationMethod = t.getAggregationMethod().label();
        this.uncertaintyMethod = t.getUncertaintyMethod().label();
        this.round = t.getModel().getRound();
        this.targetNumUpdates = t.getTargetNumUpdates();
        this.participants = t.getParticipants().stream().map(User::getUsername).sorted().toList();
        this.lastUpdate = t.getLastUpdate();
    }

    public UUID getId() {
        return id;
    }

    public String getModelName() {
        return modelName;
    }

    public String getActor() {
        return actor;
    }

    /** The state in words ({@code Ongoing}, not {@code O}). */
    public String getState() {
        return state;
    }

    public String getAggregationMethod() {
        return aggregationMethod;
    }

    public String getUncertaintyMethod() {
        return uncertaintyMethod;
    }

    /** The round the training's model is in. */
    public int getRound() {
        return round;
    }

    public int getTargetNumUpdates() {
        return targetNumUpdates;
    }

    public List<String> getParticipants() {
        return participants;
    }

    public String getParticipantNames() {
        return String.join(", ", participants);
    }

    public OffsetDateTime getLastUpdate() {
        return lastUpdate;
    }

    public String getLastUpdateText() {
        return Times.text(lastUpdate);
    }
}
