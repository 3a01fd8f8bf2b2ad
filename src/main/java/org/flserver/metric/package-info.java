/**
 * Metrics of models: entity, service, resource, and the metrics of local updates
 * ({@code LocalUpdateMetrics}). May import {@code round}, {@code training}, {@code model}, {@code user},
 * {@code platform}.
 */
package org.flserver.metric;
