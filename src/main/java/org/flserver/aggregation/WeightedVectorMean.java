package org.flserver.aggregation;

/**
 * Weighted mean of flat float vectors, added one at a time (SWAG's first and second moments are such
 * vectors). Same rule as {@link StreamingFedAvg}: a {@code double} accumulator starting at 0.0,
 * {@code acc += (double) x_i * w_i} in the order the vectors arrive, then {@code acc / Σ w_i}
 * rounded once to the output type. Only the accumulator is held, never the vectors, and the result
 * does not depend on how a caller batches its additions.
 */
public final class WeightedVectorMean {
    private final double[] acc;
    private double total;
    private int count;

    public WeightedVectorMean(int length) {
        if (length < 0) {
            throw new IllegalArgumentException("negative length");
        }
        this.acc = new double[length];
    }

    public int length() {
        return acc.length;
    }

    /** Adds {@code v} with weight {@code w} (finite, >= 0). */
    public void add(float[] v, double w) {
        check(v.length, w);
        for (int j = 0; j < acc.length; j++) {
            acc[j] += v[j] * w;
        }
        total += w;
        count++;
    }

    /** Adds {@code v} with weight {@code w} (finite, >= 0). */
    public void add(double[] v, double w) {
        check(v.length, w);
        for (int j = 0; j < acc.length; j++) {
            acc[j] += v[j] * w;
        }
        total += w;
        count++;
    }

    private void check(int length, double w) {
        if (length != acc.length) {
            throw new IllegalArgumentException("vector of length " + length + ", expected " + acc.length);
        }
        if (!Double.isFinite(w) || w < 0) {
            throw new IllegalArgumentException("weight must be finite and >= 0: " + w);
        }
    }

    /** The mean in double precision. */
    public double[] mean() {
        requireWeight();
        double[] r = new double[acc.length];
        for (int j = 0; j < r.length; j++) {
            r[j] = acc[j] / total;
        }
        return r;
    }

    /** The mean rounded once to float32 (round to nearest even). */
    public float[] meanAsFloat() {
        requireWeight();
        float[] r = new float[acc.length];
        for (int j = 0; j < r.length; j++) {
            r[j] = (float) (acc[j] / total);
        }
        return r;
    }

    public int count() {
        return count;
    }

    private void requireWeight() {
        if (!(total > 0)) {
            throw new IllegalArgumentException("the total weight is zero");
        }
    }
}
