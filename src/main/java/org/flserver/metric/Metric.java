package org.flserver.metric;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import org.flserver.model.Model;
import org.flserver.user.User;

/**
 * A value a user reported for a model at a step (the model's round when reported). Values that
 * read as numbers are kept as {@code valueFloat}, anything else as bytes, as in the reference server.
 */
@Entity
@Table(name = "metric")
public class Metric {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(length = 64)
    private String identifier;

    @Column(name = "metric_key", nullable = false, length = 32)
    private String key;

    @Column(name = "value_float")
    private Double valueFloat;

    @Column(name = "value_binary")
    private byte[] valueBinary;

    @Column(nullable = false)
    private int step;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "model_id")
    private Model model;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "reporter_id")
    private User reporter;

    protected Metric() {
    }

    public Metric(Model model, User reporter, int step, String key, Double valueFloat, byte[] valueBinary) {
        this.model = model;
        this.reporter = reporter;
        this.step = step;
        this.key = key;
        this.valueFloat = valueFloat;
        this.valueBinary = valueBinary;
    }

    public Long getId() {
        return id;
    }

    public String getIdentifier() {
        return identifier;
    }

    public String getKey() {
        return key;
    }

    public Double getValueFloat() {
        return valueFloat;
    }

    public byte[] getValueBinary() {
        return valueBinary;
    }

    public int getStep() {
        return step;
    }

    public Model getModel() {
        return model;
    }

    public User getReporter() {
        return reporter;
    }
}
