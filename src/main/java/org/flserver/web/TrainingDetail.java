package org.flserver.web;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.faces.context.FacesContext;
import jakarta.inject.Named;
import java.util.UUID;

/**
 * Backing bean of the training detail page ({@code /admin/training.xhtml?id=<uuid>}). A missing,
 * malformed or unknown id is an ordinary outcome here: the page says "not found" with status 404
 * instead of failing with a conversion error or a 500.
 */
@Named
@RequestScoped
public class TrainingDetail {

    @EJB
    AdminTrainingQueries queries;

    private String id;
    private TrainingDetailView training;
    private TrainingProgressView progress;

    /** The view action. The id stays a string until here so a malformed one is ours to answer. */
    public void load() {
        UUID uuid = parse(id);
        training = uuid == null ? null : queries.training(uuid).orElse(null);
        if (training == null) {
            FacesContext.getCurrentInstance().getExternalContext().setResponseStatus(404);
        } else {
            progress = queries.progress(uuid);
        }
    }

    private static UUID parse(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            return UUID.fromString(text.trim());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    public String getId() {
        return id;
    }

    public void setId(String id) {
        this.id = id;
    }

    public TrainingDetailView getTraining() {
        return training;
    }

    public TrainingProgressView getProgress() {
        return progress;
    }

    public boolean isFound() {
        return training != null;
    }
}
