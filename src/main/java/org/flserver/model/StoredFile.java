package org.flserver.model;

/** A file kept by {@link ModelFiles}: its SHA-256 (which is also its name) and its size in bytes. */
public record StoredFile(String sha256, long size) {
}
