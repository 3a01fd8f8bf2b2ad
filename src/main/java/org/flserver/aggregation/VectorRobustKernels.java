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
 * element as the scalar forms (the same operations, no reassociation), so the same bits; only
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
    private static final int L = INTS.length();
    private static final int DL = DOUBLES.length();

    private VectorRobustKernels() {
    }

    static boolean supported() {
        return L >= 4 && RobustKernels.TILE % (8 * L) == 0 && FLOATS.length() == L && DL >= 2 && HALF_FLOATS.length() == DL
                && DoubleVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    static boolean keysTile(float[][] x, int rows, int from, int[] k) {
        IntVector max = IntVector.zero(INTS);
        for (int c = 0; c < rows; c++) {
            float[] xc = x[c];
            int base = c * RobustKernels.TILE;
            for (int j = 0; j < RobustKernels.TILE; j += L) {
                IntVector b = FloatVector.fromArray(FLOATS, xc, from + j).viewAsIntegralLanes();
                max = max.max(b.lanewise(VectorOperators.AND, 0x7fffffff));
                b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .intoArray(k, base + j);
            }
        }
        return max.reduceLanes(VectorOperators.MAX) < 0x7f800000;
    }

    /**
     * Sorts each group of 16 rows (first rows at the offsets g), one vector of columns at a time, in
     * registers, with the comparators of {@link SortingNetwork#GROUP_LO}/{@link SortingNetwork#GROUP_HI}
     * written out in their order, level by level: Batcher's levels 1–2 and 3 on each half of 8 rows,
     * then level 4 in three steps. Small methods of at most 20 min/max each rather than one of 126:
     * C2 (Java 17) stopped inlining the Vector API calls of larger ones once other kernels (FedAvg's)
     * had run in the same JVM, and then boxed every vector (measured: 40 times slower).
     */
    static void sortGroups(int[] k, int[] g) {
        int t = RobustKernels.TILE;
        for (int gi = 0; gi < g.length; gi++) {
            int o = g[gi];
            for (int j = o; j < o + t; j += L) {
                sortPairs8(k, j);
                merge8(k, j);
                sortPairs8(k, j + 8 * t);
                merge8(k, j + 8 * t);
                merge16Far(k, j);
                merge16Mid(k, j);
                merge16Near(k, j);
            }
        }
    }

    /** Levels 1–2 of Batcher's network on 8 rows from offset a (rows TILE apart): sorts the pairs' pairs. */
    private static void sortPairs8(int[] k, int a) {
        int t = RobustKernels.TILE;
        IntVector x0 = IntVector.fromArray(INTS, k, a + 0 * t);
        IntVector x1 = IntVector.fromArray(INTS, k, a + 1 * t);
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * t);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * t);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * t);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * t);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * t);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * t);
        IntVector m;
        m = x0.min(x1); x1 = x0.max(x1); x0 = m;
        m = x2.min(x3); x3 = x2.max(x3); x2 = m;
        m = x4.min(x5); x5 = x4.max(x5); x4 = m;
        m = x6.min(x7); x7 = x6.max(x7); x6 = m;
        m = x0.min(x2); x2 = x0.max(x2); x0 = m;
        m = x1.min(x3); x3 = x1.max(x3); x1 = m;
        m = x4.min(x6); x6 = x4.max(x6); x4 = m;
        m = x5.min(x7); x7 = x5.max(x7); x5 = m;
        m = x1.min(x2); x2 = x1.max(x2); x1 = m;
        m = x5.min(x6); x6 = x5.max(x6); x5 = m;
        x0.intoArray(k, a + 0 * t);
        x1.intoArray(k, a + 1 * t);
        x2.intoArray(k, a + 2 * t);
        x3.intoArray(k, a + 3 * t);
        x4.intoArray(k, a + 4 * t);
        x5.intoArray(k, a + 5 * t);
        x6.intoArray(k, a + 6 * t);
        x7.intoArray(k, a + 7 * t);
    }
    /** Level 3 on 8 rows whose halves are sorted: merges them. */
    private static void merge8(int[] k, int a) {
        int t = RobustKernels.TILE;
        IntVector x0 = IntVector.fromArray(INTS, k, a + 0 * t);
        IntVector x1 = IntVector.fromArray(INTS, k, a + 1 * t);
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * t);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * t);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * t);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * t);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * t);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * t);
        IntVector m;
        m = x0.min(x4); x4 = x0.max(x4); x0 = m;
        m = x1.min(x5); x5 = x1.max(x5); x1 = m;
        m = x2.min(x6); x6 = x2.max(x6); x2 = m;
        m = x3.min(x7); x7 = x3.max(x7); x3 = m;
        m = x2.min(x4); x4 = x2.max(x4); x2 = m;
        m = x3.min(x5); x5 = x3.max(x5); x3 = m;
        m = x1.min(x2); x2 = x1.max(x2); x1 = m;
        m = x3.min(x4); x4 = x3.max(x4); x3 = m;
        m = x5.min(x6); x6 = x5.max(x6); x5 = m;
        x0.intoArray(k, a + 0 * t);
        x1.intoArray(k, a + 1 * t);
        x2.intoArray(k, a + 2 * t);
        x3.intoArray(k, a + 3 * t);
        x4.intoArray(k, a + 4 * t);
        x5.intoArray(k, a + 5 * t);
        x6.intoArray(k, a + 6 * t);
        x7.intoArray(k, a + 7 * t);
    }
    /** Level 4, first step: rows i and i + 8. */
    private static void merge16Far(int[] k, int a) {
        int t = RobustKernels.TILE;
        IntVector x0 = IntVector.fromArray(INTS, k, a + 0 * t);
        IntVector x1 = IntVector.fromArray(INTS, k, a + 1 * t);
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * t);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * t);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * t);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * t);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * t);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * t);
        IntVector x8 = IntVector.fromArray(INTS, k, a + 8 * t);
        IntVector x9 = IntVector.fromArray(INTS, k, a + 9 * t);
        IntVector x10 = IntVector.fromArray(INTS, k, a + 10 * t);
        IntVector x11 = IntVector.fromArray(INTS, k, a + 11 * t);
        IntVector x12 = IntVector.fromArray(INTS, k, a + 12 * t);
        IntVector x13 = IntVector.fromArray(INTS, k, a + 13 * t);
        IntVector x14 = IntVector.fromArray(INTS, k, a + 14 * t);
        IntVector x15 = IntVector.fromArray(INTS, k, a + 15 * t);
        IntVector m;
        m = x0.min(x8); x8 = x0.max(x8); x0 = m;
        m = x1.min(x9); x9 = x1.max(x9); x1 = m;
        m = x2.min(x10); x10 = x2.max(x10); x2 = m;
        m = x3.min(x11); x11 = x3.max(x11); x3 = m;
        m = x4.min(x12); x12 = x4.max(x12); x4 = m;
        m = x5.min(x13); x13 = x5.max(x13); x5 = m;
        m = x6.min(x14); x14 = x6.max(x14); x6 = m;
        m = x7.min(x15); x15 = x7.max(x15); x7 = m;
        x0.intoArray(k, a + 0 * t);
        x1.intoArray(k, a + 1 * t);
        x2.intoArray(k, a + 2 * t);
        x3.intoArray(k, a + 3 * t);
        x4.intoArray(k, a + 4 * t);
        x5.intoArray(k, a + 5 * t);
        x6.intoArray(k, a + 6 * t);
        x7.intoArray(k, a + 7 * t);
        x8.intoArray(k, a + 8 * t);
        x9.intoArray(k, a + 9 * t);
        x10.intoArray(k, a + 10 * t);
        x11.intoArray(k, a + 11 * t);
        x12.intoArray(k, a + 12 * t);
        x13.intoArray(k, a + 13 * t);
        x14.intoArray(k, a + 14 * t);
        x15.intoArray(k, a + 15 * t);
    }
    /** Level 4, the steps of distance 4 and 2. */
    private static void merge16Mid(int[] k, int a) {
        int t = RobustKernels.TILE;
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * t);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * t);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * t);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * t);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * t);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * t);
        IntVector x8 = IntVector.fromArray(INTS, k, a + 8 * t);
        IntVector x9 = IntVector.fromArray(INTS, k, a + 9 * t);
        IntVector x10 = IntVector.fromArray(INTS, k, a + 10 * t);
        IntVector x11 = IntVector.fromArray(INTS, k, a + 11 * t);
        IntVector x12 = IntVector.fromArray(INTS, k, a + 12 * t);
        IntVector x13 = IntVector.fromArray(INTS, k, a + 13 * t);
        IntVector m;
        m = x4.min(x8); x8 = x4.max(x8); x4 = m;
        m = x5.min(x9); x9 = x5.max(x9); x5 = m;
        m = x6.min(x10); x10 = x6.max(x10); x6 = m;
        m = x7.min(x11); x11 = x7.max(x11); x7 = m;
        m = x2.min(x4); x4 = x2.max(x4); x2 = m;
        m = x3.min(x5); x5 = x3.max(x5); x3 = m;
        m = x6.min(x8); x8 = x6.max(x8); x6 = m;
        m = x7.min(x9); x9 = x7.max(x9); x7 = m;
        m = x10.min(x12); x12 = x10.max(x12); x10 = m;
        m = x11.min(x13); x13 = x11.max(x13); x11 = m;
        x2.intoArray(k, a + 2 * t);
        x3.intoArray(k, a + 3 * t);
        x4.intoArray(k, a + 4 * t);
        x5.intoArray(k, a + 5 * t);
        x6.intoArray(k, a + 6 * t);
        x7.intoArray(k, a + 7 * t);
        x8.intoArray(k, a + 8 * t);
        x9.intoArray(k, a + 9 * t);
        x10.intoArray(k, a + 10 * t);
        x11.intoArray(k, a + 11 * t);
        x12.intoArray(k, a + 12 * t);
        x13.intoArray(k, a + 13 * t);
    }
    /** Level 4, the last step: neighbours. */
    private static void merge16Near(int[] k, int a) {
        int t = RobustKernels.TILE;
        IntVector x1 = IntVector.fromArray(INTS, k, a + 1 * t);
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * t);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * t);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * t);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * t);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * t);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * t);
        IntVector x8 = IntVector.fromArray(INTS, k, a + 8 * t);
        IntVector x9 = IntVector.fromArray(INTS, k, a + 9 * t);
        IntVector x10 = IntVector.fromArray(INTS, k, a + 10 * t);
        IntVector x11 = IntVector.fromArray(INTS, k, a + 11 * t);
        IntVector x12 = IntVector.fromArray(INTS, k, a + 12 * t);
        IntVector x13 = IntVector.fromArray(INTS, k, a + 13 * t);
        IntVector x14 = IntVector.fromArray(INTS, k, a + 14 * t);
        IntVector m;
        m = x1.min(x2); x2 = x1.max(x2); x1 = m;
        m = x3.min(x4); x4 = x3.max(x4); x3 = m;
        m = x5.min(x6); x6 = x5.max(x6); x5 = m;
        m = x7.min(x8); x8 = x7.max(x8); x7 = m;
        m = x9.min(x10); x10 = x9.max(x10); x9 = m;
        m = x11.min(x12); x12 = x11.max(x12); x11 = m;
        m = x13.min(x14); x14 = x13.max(x14); x13 = m;
        x1.intoArray(k, a + 1 * t);
        x2.intoArray(k, a + 2 * t);
        x3.intoArray(k, a + 3 * t);
        x4.intoArray(k, a + 4 * t);
        x5.intoArray(k, a + 5 * t);
        x6.intoArray(k, a + 6 * t);
        x7.intoArray(k, a + 7 * t);
        x8.intoArray(k, a + 8 * t);
        x9.intoArray(k, a + 9 * t);
        x10.intoArray(k, a + 10 * t);
        x11.intoArray(k, a + 11 * t);
        x12.intoArray(k, a + 12 * t);
        x13.intoArray(k, a + 13 * t);
        x14.intoArray(k, a + 14 * t);
    }
    /**
     * Per comparator, eight vectors of the two rows straight-line (the whole tile at 16 lanes), the
     * rows in L1. {@link #exchange8} stays a call of its own (C2 finds it too big to inline): inlined
     * as two halves into the loop it was boxed once FedAvg's kernels had run (measured, 3 times slower).
     */
    static void sortTile(int[] k, int[] groups, int[] lo, int[] hi) {
        sortGroups(k, groups);
        exchange(k, lo, hi);
    }

    private static void exchange(int[] k, int[] lo, int[] hi) {
        for (int i = 0; i < lo.length; i++) {
            int a = lo[i];
            int b = hi[i];
            for (int j = 0; j < RobustKernels.TILE; j += 8 * L) {
                exchange8(k, a + j, b + j);
            }
        }
    }

    private static void exchange8(int[] k, int a, int b) {
        IntVector x0 = IntVector.fromArray(INTS, k, a);
        IntVector x1 = IntVector.fromArray(INTS, k, a + L);
        IntVector x2 = IntVector.fromArray(INTS, k, a + 2 * L);
        IntVector x3 = IntVector.fromArray(INTS, k, a + 3 * L);
        IntVector x4 = IntVector.fromArray(INTS, k, a + 4 * L);
        IntVector x5 = IntVector.fromArray(INTS, k, a + 5 * L);
        IntVector x6 = IntVector.fromArray(INTS, k, a + 6 * L);
        IntVector x7 = IntVector.fromArray(INTS, k, a + 7 * L);
        IntVector y0 = IntVector.fromArray(INTS, k, b);
        IntVector y1 = IntVector.fromArray(INTS, k, b + L);
        IntVector y2 = IntVector.fromArray(INTS, k, b + 2 * L);
        IntVector y3 = IntVector.fromArray(INTS, k, b + 3 * L);
        IntVector y4 = IntVector.fromArray(INTS, k, b + 4 * L);
        IntVector y5 = IntVector.fromArray(INTS, k, b + 5 * L);
        IntVector y6 = IntVector.fromArray(INTS, k, b + 6 * L);
        IntVector y7 = IntVector.fromArray(INTS, k, b + 7 * L);
        x0.min(y0).intoArray(k, a);
        x1.min(y1).intoArray(k, a + L);
        x2.min(y2).intoArray(k, a + 2 * L);
        x3.min(y3).intoArray(k, a + 3 * L);
        x4.min(y4).intoArray(k, a + 4 * L);
        x5.min(y5).intoArray(k, a + 5 * L);
        x6.min(y6).intoArray(k, a + 6 * L);
        x7.min(y7).intoArray(k, a + 7 * L);
        x0.max(y0).intoArray(k, b);
        x1.max(y1).intoArray(k, b + L);
        x2.max(y2).intoArray(k, b + 2 * L);
        x3.max(y3).intoArray(k, b + 3 * L);
        x4.max(y4).intoArray(k, b + 4 * L);
        x5.max(y5).intoArray(k, b + 5 * L);
        x6.max(y6).intoArray(k, b + 6 * L);
        x7.max(y7).intoArray(k, b + 7 * L);
    }

    /*
     * The mean and the median first turn keys back into floats with the same 512-bit (preferred)
     * int vectors as every other int operation here, into a float scratch, and then widen with
     * FloatVector.fromArray(HALF_FLOATS).convertShape as the FedAvg kernels do. Widening straight
     * from half-width int vectors mixed two int shapes in the same JDK call sites; C2 then lost the
     * exact vector type and boxed every vector (measured: 8 times slower, and allocating). For the
     * same reason floats and ints are viewed as each other with viewAsIntegralLanes /
     * viewAsFloatingLanes, not reinterpretAsInts / reinterpretAsFloats, which the widening for
     * Krum's pass once called on another shape (with those, keysTile boxed once Krum had run).
     */

    /** f[i, i + count) = the floats of keys k[i, i + count), count a multiple of L. */
    private static void keysToFloats(int[] k, float[] f, int from, int to) {
        for (int i = from; i < to; i += L) {
            IntVector v = IntVector.fromArray(INTS, k, i);
            v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                    .viewAsFloatingLanes().intoArray(f, i);
        }
    }

    /** Per DL columns, the sum stays in a register while the kept rows are added in ascending order. */
    static void meanTile(int[] k, int fromRow, int toRow, double count, float[] out, int at, float[] scratch) {
        int tile = RobustKernels.TILE;
        keysToFloats(k, scratch, fromRow * tile, toRow * tile);
        for (int j = 0; j < tile; j += DL) {
            DoubleVector sum = DoubleVector.zero(DOUBLES);
            int end = toRow * tile + j;
            for (int i = fromRow * tile + j; i < end; i += tile) {
                sum = sum.add(FloatVector.fromArray(HALF_FLOATS, scratch, i).convertShape(VectorOperators.F2D, DOUBLES, 0));
            }
            ((FloatVector) sum.div(count).convertShape(VectorOperators.D2F, HALF_FLOATS, 0)).intoArray(out, at + j);
        }
    }

    static void medianTile(int[] k, int rows, float[] out, int at, float[] scratch) {
        int tile = RobustKernels.TILE;
        int h = (rows >> 1) * tile;
        if ((rows & 1) == 1) {
            for (int j = 0; j < tile; j += L) {
                IntVector v = IntVector.fromArray(INTS, k, h + j);
                v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .viewAsFloatingLanes().intoArray(out, at + j);
            }
        } else {
            keysToFloats(k, scratch, h - tile, h + tile);
            for (int j = 0; j < tile; j += DL) {
                DoubleVector a = (DoubleVector) FloatVector.fromArray(HALF_FLOATS, scratch, h - tile + j)
                        .convertShape(VectorOperators.F2D, DOUBLES, 0);
                DoubleVector b = (DoubleVector) FloatVector.fromArray(HALF_FLOATS, scratch, h + j)
                        .convertShape(VectorOperators.F2D, DOUBLES, 0);
                ((FloatVector) a.add(b).div(2.0).convertShape(VectorOperators.D2F, HALF_FLOATS, 0)).intoArray(out, at + j);
            }
        }
    }

    /** The two bounds as floats in the scratch first, then client by client with the counts in registers. */
    static void countTrimmed(float[][] x, int rows, int from, int[] k, int loRow, int hiRow, long[] low, long[] high,
            float[] scratch) {
        int tile = RobustKernels.TILE;
        int lo = loRow * tile;
        int hi = hiRow * tile;
        keysToFloats(k, scratch, lo, lo + tile);
        keysToFloats(k, scratch, hi, hi + tile);
        for (int c = 0; c < rows; c++) {
            float[] xc = x[c];
            int below = 0;
            int above = 0;
            for (int j = 0; j < tile; j += L) {
                FloatVector y = FloatVector.fromArray(FLOATS, xc, from + j);
                below += y.lt(FloatVector.fromArray(FLOATS, scratch, lo + j)).trueCount();
                above += FloatVector.fromArray(FLOATS, scratch, hi + j).lt(y).trueCount();
            }
            low[c] += below;
            high[c] += above;
        }
    }

    /**
     * Checks finiteness on the widened doubles (the largest magnitude, NaN propagating through max)
     * rather than on the floats' bits as half-width ints: every int vector here then has the
     * preferred shape. Int operations on a second shape share the JDK's call sites with those of
     * the tile kernels, and C2 then sometimes boxed this loop, or the sort's, depending on which was
     * compiled first (seen as Krum taking 3–4 s instead of 0.7 in some benchmark runs).
     */
    static boolean widen(float[] x, double[] d, int n) {
        int bound = n - n % DL;
        DoubleVector max = DoubleVector.zero(DOUBLES);
        int j = 0;
        for (; j < bound; j += DL) {
            DoubleVector v = (DoubleVector) FloatVector.fromArray(HALF_FLOATS, x, j).convertShape(VectorOperators.F2D, DOUBLES, 0);
            max = max.max(v.abs());
            v.intoArray(d, j);
        }
        boolean finite = max.reduceLanes(VectorOperators.MAX) < Double.POSITIVE_INFINITY;
        for (; j < n; j++) {
            finite &= (Float.floatToRawIntBits(x[j]) & 0x7fffffff) < 0x7f800000;
            d[j] = x[j];
        }
        return finite;
    }
}
