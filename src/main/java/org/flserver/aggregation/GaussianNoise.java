package org.flserver.aggregation;

/**
 * The Gaussian noise of central DP-FedAvg: a counter-based generator, so that the noise of a
 * coordinate depends only on (seed, round, coordinate index), whichever thread computes it, and a
 * test (or an auditor) can reproduce it independently (src/test/python/robust_aggregation/ does).
 *
 * <p>The rule (docs/design.md §4.3), all arithmetic modulo 2^64, {@code γ = 0x9E3779B97F4A7C15}:
 * <pre>
 * mix64(z)   = z ^= z >>> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >>> 27; z *= 0x94D049BB133111EB; z ^ (z >>> 31)
 * key        = mix64(mix64(seed) + round)
 * out(i)     = mix64(key + (i + 1) · γ)                  (SplitMix64's i-th output from state key)
 * u1         = ((out(2k) >>> 11) + 1) · 2^-53             in (0, 1]
 * u2         = (out(2k + 1) >>> 11) · 2^-53               in [0, 1)
 * noise(k)   = sqrt(−2 ln u1) · cos(2π u2)                (Box–Muller, java.lang.StrictMath)
 * </pre>
 * SplitMix64 is a statistical, not a cryptographic generator: it passes BigCrush, but whoever knows
 * the seed knows the noise. Without a configured seed the caller draws one from a
 * {@link java.security.SecureRandom} per round and does not publish it.
 */
public final class GaussianNoise {

    static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final long key;

    /** The noise stream of one round. */
    public GaussianNoise(long seed, long round) {
        this.key = mix64(mix64(seed) + round);
    }

    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A standard normal value for coordinate k (k ≥ 0). */
    public double noise(long k) {
        long o1 = mix64(key + (2 * k + 1) * GOLDEN);
        long o2 = mix64(key + (2 * k + 2) * GOLDEN);
        double u1 = ((o1 >>> 11) + 1) * 0x1.0p-53;
        double u2 = (o2 >>> 11) * 0x1.0p-53;
        return StrictMath.sqrt(-2 * StrictMath.log(u1)) * StrictMath.cos(2 * Math.PI * u2);
    }
}
