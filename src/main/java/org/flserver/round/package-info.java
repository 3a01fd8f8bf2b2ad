/**
 * Training rounds: the round engine, participants' uploads ({@code UpdateService}), aggregation jobs,
 * delivery outcomes, model versions and provenance. May import {@code notification}, {@code training},
 * {@code model}, {@code user}, {@code aggregation}, {@code tensor}, {@code platform}.
 */
package org.flserver.round;
