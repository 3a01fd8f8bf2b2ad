package org.flserver.model;

/**
 * A validated global-model upload, ready to be stored: the form fields of {@code POST /api/models/}
 * (api.md §5.2) and the files already committed to {@link ModelFiles}. {@code inputShape} is the
 * JSON text of the shape (e.g. {@code [null,3]}) or {@code null}; {@code preprocessing} may be null.
 */
public record ModelUpload(String type, String name, String description, int round, String inputShape,
                          StoredFile weights, StoredFile preprocessing) {
}
