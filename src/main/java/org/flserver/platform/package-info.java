/**
 * The bottom of the stack: the JAX-RS application ({@code /api}), data source and migrations, error
 * bodies and exception mappers, bounded JSON, url-encoded form and request-field reading, size limits,
 * malformed media-type headers, unique-key violations as refusals, security headers,
 * OpenAPI, health, the start-up summary, the {@code Anonymous} marker. Imports no other package of org.flserver.
 */
package org.flserver.platform;
