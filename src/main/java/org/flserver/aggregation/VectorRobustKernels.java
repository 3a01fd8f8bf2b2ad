package org.flserver.aggregation;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API forms of {@link RobustKernels}: one lane per coordinate, so a compare-exchange of
 * two clients' rows is an integer min and max over 8 or 16 coordinates at once. Same arithmetic per
 * element as the scalar forms (the same operations, fused multiply-adds where they use
 * {@link Math#fma}, no reassociation), so the same bits; only
 * loaded when {@code jdk.incubator.vector} is in the boot layer.
 */
final class VectorRobustKernels {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(INTS.vectorBitSize()));
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as {@link #DOUBLES}, for widening. */
    private static final VectorSpecies<Float> HALF_FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DOUBLES.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> HALF_INTS = VectorSpecies.of(int.class, HALF_FLOATS.vectorShape());
    /** Four doubles: Krum's eight accumulators are two of these. */
    private static final VectorSpecies<Double> D4 = DoubleVector.SPECIES_256;
    private static final int L = INTS.length();
    private static final int DL = DOUBLES.length();

    private VectorRobustKernels() {
    }

    static boolean supported() {
        return L >= 4 && FLOATS.length() == L && DL >= 2 && HALF_FLOATS.length() == DL
                && DoubleVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    static boolean toKeys(float[] x, int[] k, int from, int n) {
        IntVector max = IntVector.zero(INTS);
        int bound = n - (n - from) % L;
        int j = from;
        for (; j < bound; j += L) {
            IntVector b = FloatVector.fromArray(FLOATS, x, j).reinterpretAsInts();
            max = max.max(b.lanewise(VectorOperators.AND, 0x7fffffff));
            b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                    .intoArray(k, j);
        }
        boolean finite = max.reduceLanes(VectorOperators.MAX) < 0x7f800000;
        for (; j < n; j++) {
            int b = Float.floatToRawIntBits(x[j]);
            finite &= (b & 0x7fffffff) < 0x7f800000;
            k[j] = b ^ ((b >> 31) & 0x7fffffff);
        }
        return finite;
    }

    static void fromKeys(int[] k, float[] f, int from, int to) {
        int j = from;
        for (; j + L <= to; j += L) {
            IntVector v = IntVector.fromArray(INTS, k, j);
            v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                    .reinterpretAsFloats().intoArray(f, j);
        }
        for (; j < to; j++) {
            f[j] = RobustKernels.fromKey(k[j]);
        }
    }

    static void sort(SortingNetwork net, int[][] keys, int from, int to) {
        int[] lo = net.lo;
        int[] hi = net.hi;
        int bound = to - (to - from) % L;
        for (int i = 0; i < lo.length; i++) {
            int[] a = keys[lo[i]];
            int[] b = keys[hi[i]];
            int j = from;
            for (; j < bound; j += L) {
                IntVector x = IntVector.fromArray(INTS, a, j);
                IntVector y = IntVector.fromArray(INTS, b, j);
                x.min(y).intoArray(a, j);
                x.max(y).intoArray(b, j);
            }
            for (; j < to; j++) {
                int x = a[j];
                int y = b[j];
                a[j] = Math.min(x, y);
                b[j] = Math.max(x, y);
            }
        }
    }

    private static DoubleVector widened(float[] x, int j) {
        return (DoubleVector) FloatVector.fromArray(HALF_FLOATS, x, j).convertShape(VectorOperators.F2D, DOUBLES, 0);
    }

    static void addWidened(double[] a, boolean first, float[] x, int from, int n) {
        int bound = n - (n - from) % DL;
        DoubleVector zero = DoubleVector.zero(DOUBLES);
        int j = from;
        for (; j < bound; j += DL) {
            DoubleVector acc = first ? zero : DoubleVector.fromArray(DOUBLES, a, j);
            acc.add(widened(x, j)).intoArray(a, j);
        }
        for (; j < n; j++) {
            a[j] = (first ? 0.0 : a[j]) + (double) x[j];
        }
    }

    static int countBelow(float[] x, float[] lo, int from, int n) {
        int bound = n - (n - from) % L;
        int count = 0;
        int j = from;
        for (; j < bound; j += L) {
            count += FloatVector.fromArray(FLOATS, x, j).lt(FloatVector.fromArray(FLOATS, lo, j)).trueCount();
        }
        for (; j < n; j++) {
            count += x[j] < lo[j] ? 1 : 0;
        }
        return count;
    }

    /** f[j] = (float) (a[j] / count): the division, then one rounding to nearest even. */
    static void divide(float[] f, double[] a, double count, int from, int to) {
        int j = from;
        for (; j + DL <= to; j += DL) {
            DoubleVector mean = DoubleVector.fromArray(DOUBLES, a, j).div(count);
            ((FloatVector) mean.convertShape(VectorOperators.D2F, HALF_FLOATS, 0)).intoArray(f, j);
        }
        for (; j < to; j++) {
            f[j] = (float) (a[j] / count);
        }
    }

    static boolean widen(float[] x, double[] d, int n) {
        int bound = n - n % DL;
        IntVector max = IntVector.zero(HALF_INTS);
        int j = 0;
        for (; j < bound; j += DL) {
            FloatVector f = FloatVector.fromArray(HALF_FLOATS, x, j);
            max = max.max(f.reinterpretAsInts().lanewise(VectorOperators.AND, 0x7fffffff));
            ((DoubleVector) f.convertShape(VectorOperators.F2D, DOUBLES, 0)).intoArray(d, j);
        }
        boolean finite = max.reduceLanes(VectorOperators.MAX) < 0x7f800000;
        for (; j < n; j++) {
            finite &= (Float.floatToRawIntBits(x[j]) & 0x7fffffff) < 0x7f800000;
            d[j] = x[j];
        }
        return finite;
    }

    static double squaredDistance(double[] a, double[] b, int from, int to) {
        double[] s = new double[8];
        int j = from;
        if (DL == 8) { // one vector is the eight accumulators
            DoubleVector s0 = DoubleVector.zero(DOUBLES);
            for (; j + 8 <= to; j += 8) {
                DoubleVector e = DoubleVector.fromArray(DOUBLES, a, j).sub(DoubleVector.fromArray(DOUBLES, b, j));
                s0 = e.fma(e, s0);
            }
            s0.intoArray(s, 0);
        } else {
            DoubleVector s0 = DoubleVector.zero(D4);
            DoubleVector s1 = DoubleVector.zero(D4);
            for (; j + 8 <= to; j += 8) {
                DoubleVector e0 = DoubleVector.fromArray(D4, a, j).sub(DoubleVector.fromArray(D4, b, j));
                DoubleVector e1 = DoubleVector.fromArray(D4, a, j + 4).sub(DoubleVector.fromArray(D4, b, j + 4));
                s0 = e0.fma(e0, s0);
                s1 = e1.fma(e1, s1);
            }
            s0.intoArray(s, 0);
            s1.intoArray(s, 4);
        }
        return RobustKernels.tail(s, a, b, j, to);
    }

    /**
     * partial[p] += the squared distance of rows a &lt; b over [from, to), p running over the pairs
     * row by row; with 8-lane vectors two pairs share each load of row a.
     */
    static void pairDistances(double[][] x, int rows, int from, int to, double[] partial) {
        int p = 0;
        if (DL != 8) {
            for (int a = 0; a < rows; a++) {
                for (int b = a + 1; b < rows; b++) {
                    partial[p++] += squaredDistance(x[a], x[b], from, to);
                }
            }
            return;
        }
        double[] s = new double[8];
        double[] t = new double[8];
        int bound = from + ((to - from) & ~7);
        for (int a = 0; a < rows; a++) {
            double[] xa = x[a];
            int b = a + 1;
            for (; b + 1 < rows; b += 2) {
                double[] xb = x[b];
                double[] xc = x[b + 1];
                DoubleVector s0 = DoubleVector.zero(DOUBLES);
                DoubleVector s1 = DoubleVector.zero(DOUBLES);
                for (int j = from; j < bound; j += 8) {
                    DoubleVector va = DoubleVector.fromArray(DOUBLES, xa, j);
                    DoubleVector e0 = va.sub(DoubleVector.fromArray(DOUBLES, xb, j));
                    DoubleVector e1 = va.sub(DoubleVector.fromArray(DOUBLES, xc, j));
                    s0 = e0.fma(e0, s0);
                    s1 = e1.fma(e1, s1);
                }
                s0.intoArray(s, 0);
                s1.intoArray(t, 0);
                partial[p++] += RobustKernels.tail(s, xa, xb, bound, to);
                partial[p++] += RobustKernels.tail(t, xa, xc, bound, to);
            }
            if (b < rows) {
                partial[p++] += squaredDistance(xa, x[b], from, to);
            }
        }
    }
}
