package org.flserver.model;

import java.util.UUID;

/**
 * What a participant sends to {@code /api/models/<id>/} during a training — a local update
 * (docs/api.md §5.7) or SWAG statistics (§5.8) — as {@link ModelResource} needs it: the rules of
 * such an upload are the training round's, which sits above this package, so the round package
 * implements this interface and the resource only receives the files and hands them on.
 *
 * <p>The resource calls the checks in this order, each before it spends more on the request:
 * the form's other fields, then who may upload what for which round (no file read yet), then,
 * after the files passed {@link WeightChecks} and sit in the store, the store method, which
 * checks again under the training's lock.
 */
public interface ParticipantUploads {

    /**
     * The fields of a local update's form other than round, sample size and file (its metrics),
     * checked and bounded without any database work: 400 for a bad one, 413 for too many.
     */
    void checkUpdateFields(UploadForm form);

    /**
     * Whether the caller may send a local update of {@code globalId} for {@code round} now (400,
     * 403, 404 otherwise); returns the global model's current weights, which the update must match.
     */
    StoredFile checkLocalUpdate(UUID globalId, UUID callerId, int round);

    /** As {@link #checkLocalUpdate} for SWAG statistics. */
    StoredFile checkSwagStatistics(UUID globalId, UUID callerId, int round);

    /** Stores a checked local update (file already in the store) with the metrics of its form. */
    void storeLocalUpdate(UUID globalId, UUID callerId, int round, int sampleSize, StoredFile file,
                          UploadForm form);

    /** Stores checked SWAG statistics (both moment files already in the store). */
    void storeSwagStatistics(UUID globalId, UUID callerId, int round, int sampleSize, StoredFile firstMoment,
                             StoredFile secondMoment);
}
