/**
 * The store of models and their files: the model hierarchy, the file store, uploads and their checks,
 * model JSON and stats. May import {@code user}, {@code tensor}, {@code platform}; what it needs from
 * above it declares as interfaces ({@code ParticipantUploads}, {@code ModelAudience}).
 */
package org.flserver.model;
