package org.flserver.aggregation;

/**
 * Central DP-FedAvg with fixed clipping (the training option {@code options.dp}): each update's delta
 * to the global model is clipped to L2 norm {@code clipNorm} over all floating-point tensors, the
 * clipped deltas are averaged unweighted and Gaussian noise of standard deviation
 * {@code noiseMultiplier · clipNorm / N} is added per coordinate ({@link GaussianNoise}).
 *
 * @param clipNorm        C &gt; 0
 * @param noiseMultiplier z ≥ 0 (0: clipping only, no privacy)
 * @param seed            the noise seed, or null to draw a fresh one per round from SecureRandom
 * @param delta           the δ that ε is reported for, 0 &lt; δ &lt; 1 (default 1e-5)
 */
public record DpSettings(double clipNorm, double noiseMultiplier, Long seed, double delta) {

    public static final double DEFAULT_DELTA = 1e-5;

    /** @throws IllegalArgumentException with a message fit for a 400's {@code detail} */
    public DpSettings {
        if (!(clipNorm > 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("dp.clip_norm must be a positive number, got " + clipNorm);
        }
        if (!(noiseMultiplier >= 0) || Double.isInfinite(noiseMultiplier)) {
            throw new IllegalArgumentException("dp.noise_multiplier must be >= 0, got " + noiseMultiplier);
        }
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("dp.delta must be > 0 and < 1, got " + delta);
        }
    }

    public DpSettings(double clipNorm, double noiseMultiplier, Long seed) {
        this(clipNorm, noiseMultiplier, seed, DEFAULT_DELTA);
    }
}
