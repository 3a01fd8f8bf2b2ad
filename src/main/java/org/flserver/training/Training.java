package org.flserver.training;

import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.EntityListeners;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.OneToOne;
import jakarta.persistence.OrderColumn;
import jakarta.persistence.PrePersist;
import jakarta.persistence.PreUpdate;
import jakarta.persistence.Table;
import java.io.StringReader;
import java.time.OffsetDateTime;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.platform.Jsonp;
import org.flserver.user.User;

/**
 * A federated training, exactly as the user's seed describes it: one global model (one-to-one),
 * an actor, participants, a state ({@code I/O/C/E/S}), a target number of updates, the time of the
 * last change, the uncertainty and aggregation methods, free JSON options and the aggregation lock.
 *
 * <p>{@link TrainingListener} runs after the row is inserted and applies the daisy-chain rule to
 * {@code targetNumUpdates} (the seed's {@code post_save_training}).
 */
@Entity
@Table(name = "training")
@EntityListeners(TrainingListener.class)
public class Training {

    @Id
    private UUID id;

    @OneToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "model_id", unique = true)
    private GlobalModel model;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "actor_id")
    private User actor;

    /**
     * In the order they joined: the join table keeps each participant's position, so every read
     * lists them alike (an unordered set came back in whatever order the database chose). Callers
     * see a set ({@link #getParticipants()}); the list behind it never holds a user twice.
     */
    @ManyToMany
    @JoinTable(name = "training_participant",
            joinColumns = @JoinColumn(name = "training_id"),
            inverseJoinColumns = @JoinColumn(name = "user_id"))
    @OrderColumn(name = "join_order")
    private List<User> participants = new ArrayList<>();

    @Convert(converter = TrainingConverters.StateConverter.class)
    @Column(nullable = false, length = 1)
    private TrainingState state = TrainingState.INITIAL;

    @Column(name = "target_num_updates", nullable = false)
    private int targetNumUpdates;

    @Column(name = "last_update", nullable = false)
    private OffsetDateTime lastUpdate;

    @Convert(converter = TrainingConverters.UncertaintyConverter.class)
    @Column(name = "uncertainty_method", nullable = false, length = 32)
    private UncertaintyMethod uncertaintyMethod = UncertaintyMethod.NONE;

    @Convert(converter = TrainingConverters.AggregationConverter.class)
    @Column(name = "aggregation_method", nullable = false, length = 32)
    private AggregationMethod aggregationMethod = AggregationMethod.FED_AVG;

    /** JSON object text; a {@code jsonb} column on PostgreSQL. */
    @Column(nullable = false)
    private String options = "{}";

    @Column(nullable = false)
    private boolean locked;

    protected Training() {
    }

    public Training(GlobalModel model, User actor, int targetNumUpdates) {
        this.id = UUID.randomUUID();
        this.model = model;
        this.actor = actor;
        this.targetNumUpdates = targetNumUpdates;
    }

    /** {@code last_update} is Django's {@code auto_now}: set on every insert and update. */
    @PrePersist
    @PreUpdate
    void stampLastUpdate() {
        touch();
    }

    public void touch() {
        lastUpdate = OffsetDateTime.now();
    }

    /**
     * The daisy-chain period from the options: the integer {@code options.daisy_chain_period}, or 0
     * when it is absent. The API refuses non-integer periods before a training is stored.
     */
    public int daisyChainPeriod() {
        JsonValue period = optionsJson().get("daisy_chain_period");
        if (period instanceof JsonNumber n && n.isIntegral()) {
            return n.intValueExact();
        }
        return 0;
    }

    public JsonObject optionsJson() {
        try (JsonReader reader = Jsonp.createReader(new StringReader(options == null ? "{}" : options))) {
            return reader.readObject();
        }
    }

    public UUID getId() {
        return id;
    }

    public GlobalModel getModel() {
        return model;
    }

    public User getActor() {
        return actor;
    }

    /**
     * The participants in the order they joined, as a modifiable set: adding a user who already
     * takes part changes nothing, and a newly added one goes last.
     */
    public Set<User> getParticipants() {
        return new AbstractSet<>() {
            @Override
            public Iterator<User> iterator() {
                return participants.iterator();
            }

            @Override
            public int size() {
                return participants.size();
            }

            @Override
            public boolean add(User user) {
                return !participants.contains(user) && participants.add(user);
            }
        };
    }

    public TrainingState getState() {
        return state;
    }

    public void setState(TrainingState state) {
        this.state = state;
    }

    public int getTargetNumUpdates() {
        return targetNumUpdates;
    }

    public void setTargetNumUpdates(int targetNumUpdates) {
        this.targetNumUpdates = targetNumUpdates;
    }

    public OffsetDateTime getLastUpdate() {
        return lastUpdate;
    }

    public UncertaintyMethod getUncertaintyMethod() {
        return uncertaintyMethod;
    }

    public void setUncertaintyMethod(UncertaintyMethod uncertaintyMethod) {
        this.uncertaintyMethod = uncertaintyMethod;
    }

    public AggregationMethod getAggregationMethod() {
        return aggregationMethod;
    }

    public void setAggregationMethod(AggregationMethod aggregationMethod) {
        this.aggregationMethod = aggregationMethod;
    }

    public String getOptions() {
        return options;
    }

    public void setOptions(JsonObject options) {
        this.options = options == null ? "{}" : options.toString();
    }

    public boolean isLocked() {
        return locked;
    }

    public void setLocked(boolean locked) {
        this.locked = locked;
    }
}
