package org.flserver.model;

import java.util.Collection;
import java.util.List;
import java.util.UUID;

/**
 * Who, besides its owner, may see or delete a model (docs/api.md §15.2): the actor and participants
 * of the training on it. Trainings sit above this package, so the training package implements this
 * interface and {@link ModelService} asks it instead of querying trainings itself.
 */
public interface ModelAudience {

    /** Whether the caller is actor or participant of a training on one of these global models. */
    boolean takesPart(Collection<UUID> globalModelIds, UUID callerId);

    /**
     * The caller's own models (local ones included) and the global models of the trainings the
     * caller is actor or participant of, oldest first (creation time, then id).
     */
    List<Model> visibleModels(UUID callerId);

    /** Whether the caller is the actor of the training on {@code model} (false when it has none). */
    boolean isActor(GlobalModel model, UUID callerId);

    /**
     * Locks the row of the training on {@code model} ({@code PESSIMISTIC_WRITE}), if it has one, and
     * tells whether an aggregation job of that training is pending (its {@code locked} flag, read
     * under the lock). A deletion takes this lock before it deletes anything: uploads and metric
     * reports lock the training row before they insert rows that reference the model, so a deletion
     * that took the model row first would deadlock with them (design.md §5.1).
     */
    boolean lockTraining(GlobalModel model);
}
