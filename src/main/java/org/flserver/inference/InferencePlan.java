package org.flserver.inference;

import java.util.List;

/**
 * Everything an inference request needs from the database, read in one short transaction so that
 * the model runs without one: which TorchScript files to run (one, or an ensemble's members), the
 * preprocessing module, the declared input shape, and how to measure uncertainty.
 *
 * @param modules        the module(s) to run: one, or the members of a mean model (ENSEMBLE)
 * @param preprocessing  the global model's preprocessing module, or null
 * @param inputShape     the declared input shape as JSON text (e.g. {@code [null, 8]}), or null
 * @param method         NONE, ENSEMBLE, MC_DROPOUT or SWAG (the model's training's method)
 * @param samples        N of MC dropout and SWAG ({@code options.uncertainty.N}, default 10)
 * @param seed           {@code options.uncertainty.seed}, or null for fresh randomness
 * @param softmax        {@code options.uncertainty.softmax}: softmax over dimension 1 before the statistics
 * @param swagFirst      SWAG only: the stored first moment (a file hash), else null
 * @param swagSecond     SWAG only: the stored second moment, else null
 */
public record InferencePlan(List<ModuleFile> modules, ModuleFile preprocessing, String inputShape, String method,
                            int samples, Long seed, boolean softmax, String swagFirst, String swagSecond) {
}
