/**
 * Trainings: the entity, its states and methods, its listener, {@code TrainingService}, the resources
 * (also {@code GET /api/users/trainings/}), and the trainings of a model ({@code ModelTrainings}).
 * May import {@code model}, {@code user}, {@code platform}, {@code aggregation} (the rules' settings,
 * checked at creation with the library's own messages), and {@code round} (the one accepted cycle).
 */
package org.flserver.training;
