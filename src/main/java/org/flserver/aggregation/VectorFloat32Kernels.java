package org.flserver.aggregation;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 loops of {@link Float32Kernels} written with the JDK's Vector API, which JDK 17's JIT
 * compiles to SIMD conversions ({@code vcvtps2pd}/{@code vcvtpd2ps}) where its auto-vectoriser leaves
 * the float → double widening scalar: on the project machine (AVX-512) they fold about 11 billion
 * client elements per second and core instead of about 3.
 *
 * <p>{@link Float32Kernels#VECTOR} only loads this class when the incubator module
 * {@code jdk.incubator.vector} is in the boot layer (JVM option
 * {@code --add-modules=jdk.incubator.vector}), and the aggregation only uses it when these loops gave
 * the scalar loops' bits on a probe; otherwise the scalar loops run. The arithmetic per element is exactly
 * the scalar one: {@code acc = acc + (double) x * w}, a multiplication and an addition, each rounded,
 * in client order (no fused multiply-add, no reassociation), so the results are bit-identical.
 *
 * <p>The loops read {@code float[]} slices (the caller copies each client's block into one): the
 * loads from arrays are the fastest the Vector API has, and the array methods exist unchanged in
 * every JDK since 17, whereas the {@code ByteBuffer} loads were replaced in later JDKs.
 */
final class VectorFloat32Kernels {

    /** Doubles per vector: the widest the machine prefers (8 with AVX-512). */
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    /** Floats per vector: as many lanes as {@link #DOUBLES}, in half the bits. */
    private static final VectorSpecies<Float> FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DOUBLES.vectorBitSize() / 2));
    private static final int LANES = DOUBLES.length();

    private VectorFloat32Kernels() {
    }

    /** Whether the species fit together (64-bit float vectors exist, so any preferred shape from 128 bits on). */
    static boolean supported() {
        return LANES >= 2 && FLOATS.length() == LANES;
    }

    private static DoubleVector widened(float[] x, int j) {
        return (DoubleVector) FloatVector.fromArray(FLOATS, x, j).convertShape(VectorOperators.F2D, DOUBLES, 0);
    }

    /**
     * {@code a[j] = (((a[j] + x0[j]·w0) + x1[j]·w1) + x2[j]·w2) + x3[j]·w3} for j &lt; n, starting from
     * {@code 0.0} instead of {@code a[j]} when {@code first}.
     */
    static void fold4(double[] a, boolean first, float[] x0, double w0, float[] x1, double w1,
                      float[] x2, double w2, float[] x3, double w3, int n) {
        int bound = n - n % LANES;
        DoubleVector zero = DoubleVector.zero(DOUBLES);
        int j = 0;
        for (; j < bound; j += LANES) {
            DoubleVector acc = first ? zero : DoubleVector.fromArray(DOUBLES, a, j);
            acc = acc.add(widened(x0, j).mul(w0));
            acc = acc.add(widened(x1, j).mul(w1));
            acc = acc.add(widened(x2, j).mul(w2));
            acc = acc.add(widened(x3, j).mul(w3));
            acc.intoArray(a, j);
        }
        for (; j < n; j++) {
            a[j] = ((((first ? 0.0 : a[j]) + x0[j] * w0) + x1[j] * w1) + x2[j] * w2) + x3[j] * w3;
        }
    }

    /** {@code a[j] = a[j] + x[j]·w} for j &lt; n, starting from {@code 0.0} when {@code first}. */
    static void fold1(double[] a, boolean first, float[] x, double w, int n) {
        int bound = n - n % LANES;
        DoubleVector zero = DoubleVector.zero(DOUBLES);
        int j = 0;
        for (; j < bound; j += LANES) {
            DoubleVector acc = first ? zero : DoubleVector.fromArray(DOUBLES, a, j);
            acc.add(widened(x, j).mul(w)).intoArray(a, j);
        }
        for (; j < n; j++) {
            a[j] = (first ? 0.0 : a[j]) + x[j] * w;
        }
    }

    /** {@code f[j] = (float) (a[j] / total)}: the division, then one rounding to nearest even. */
    static void finish(float[] f, double[] a, double total, int n) {
        int bound = n - n % LANES;
        int j = 0;
        for (; j < bound; j += LANES) {
            DoubleVector mean = DoubleVector.fromArray(DOUBLES, a, j).div(total);
            ((FloatVector) mean.convertShape(VectorOperators.D2F, FLOATS, 0)).intoArray(f, j);
        }
        for (; j < n; j++) {
            f[j] = (float) (a[j] / total);
        }
    }
}
