package org.flserver.aggregation;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
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

    /**
     * Two clients per pass over the tile's columns, then the last one of an odd number alone. That
     * makes this method larger than C2's FreqInlineSize (325 bytecodes), so C2 always compiles it
     * apart instead of inlining it into {@code CoordinateFold.unit}: inlined there, together with
     * the block reads and the trimmed mean's other kernels, it pushed that method past C2's inlining
     * budget, the vector stores of {@link #clampRows} failed to intrinsify (-XX:+PrintInlining:
     * "failed to inline (intrinsic)") and every vector was boxed (the trimmed mean of 50 × 10M took
     * 1.0–1.5 instead of 0.35–0.4 s, in some JVMs and not others).
     */
    static boolean keysTile(float[][] x, int rows, int from, int[] k) {
        int t = RobustKernels.TILE;
        IntVector max = IntVector.zero(INTS);
        int c = 0;
        for (; c + 2 <= rows; c += 2) {
            float[] x0 = x[c];
            float[] x1 = x[c + 1];
            int base = c * t;
            for (int j = 0; j < t; j += L) {
                IntVector b0 = (IntVector) FloatVector.fromArray(FLOATS, x0, from + j).convertShape(VectorOperators.REINTERPRET_F2I, INTS, 0);
                IntVector b1 = (IntVector) FloatVector.fromArray(FLOATS, x1, from + j).convertShape(VectorOperators.REINTERPRET_F2I, INTS, 0);
                max = max.max(b0.lanewise(VectorOperators.AND, 0x7fffffff)).max(b1.lanewise(VectorOperators.AND, 0x7fffffff));
                b0.lanewise(VectorOperators.XOR, b0.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .intoArray(k, base + j);
                b1.lanewise(VectorOperators.XOR, b1.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .intoArray(k, base + t + j);
            }
        }
        if (c < rows) {
            float[] xc = x[c];
            int base = c * t;
            for (int j = 0; j < t; j += L) {
                IntVector b = (IntVector) FloatVector.fromArray(FLOATS, xc, from + j).convertShape(VectorOperators.REINTERPRET_F2I, INTS, 0);
                max = max.max(b.lanewise(VectorOperators.AND, 0x7fffffff));
                b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .intoArray(k, base + j);
            }
        }
        return max.reduceLanes(VectorOperators.MAX) < 0x7f800000;
    }

    /**
     * Sorts each group of 16 rows (first rows at the offsets g), in registers, with the comparators of
     * {@link SortingNetwork#GROUP_LO}/{@link SortingNetwork#GROUP_HI} written out in their order, level
     * by level: Batcher's levels 1–2 and 3 on each half of 8 rows, then level 4 in three steps. Small
     * methods of at most 20 min/max each rather than one of 126: C2 (Java 17) stopped inlining the
     * Vector API calls of larger ones once other kernels (FedAvg's) had run in the same JVM, and then
     * boxed every vector (measured: 40 times slower). Each step loops over the tile's vectors of
     * columns itself: with the indices linear in its loop variable, C2 checks the array bounds once
     * per call instead of at every load and store (measured: 1.7 → 1.25 µs per tile of 50 rows).
     */
    static void sortGroups(int[] k, int[] g) {
        int t = RobustKernels.TILE;
        for (int gi = 0; gi < g.length; gi++) {
            int o = g[gi];
            sortPairs8(k, o);
            merge8(k, o);
            sortPairs8(k, o + 8 * t);
            merge8(k, o + 8 * t);
            merge16Far(k, o);
            merge16Mid(k, o);
            merge16Near(k, o);
        }
    }

    /** Levels 1–2 of Batcher's network on 8 rows from offset a (rows TILE apart): sorts the pairs' pairs. */
    private static void sortPairs8(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, j + 0 * t);
            IntVector x1 = IntVector.fromArray(INTS, k, j + 1 * t);
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
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
            x0.intoArray(k, j + 0 * t);
            x1.intoArray(k, j + 1 * t);
            x2.intoArray(k, j + 2 * t);
            x3.intoArray(k, j + 3 * t);
            x4.intoArray(k, j + 4 * t);
            x5.intoArray(k, j + 5 * t);
            x6.intoArray(k, j + 6 * t);
            x7.intoArray(k, j + 7 * t);
        }
    }
    /** Level 3 on 8 rows whose halves are sorted: merges them. */
    private static void merge8(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, j + 0 * t);
            IntVector x1 = IntVector.fromArray(INTS, k, j + 1 * t);
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
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
            x0.intoArray(k, j + 0 * t);
            x1.intoArray(k, j + 1 * t);
            x2.intoArray(k, j + 2 * t);
            x3.intoArray(k, j + 3 * t);
            x4.intoArray(k, j + 4 * t);
            x5.intoArray(k, j + 5 * t);
            x6.intoArray(k, j + 6 * t);
            x7.intoArray(k, j + 7 * t);
        }
    }
    /** Level 4, first step: rows i and i + 8. */
    private static void merge16Far(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, j + 0 * t);
            IntVector x1 = IntVector.fromArray(INTS, k, j + 1 * t);
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
            IntVector x8 = IntVector.fromArray(INTS, k, j + 8 * t);
            IntVector x9 = IntVector.fromArray(INTS, k, j + 9 * t);
            IntVector x10 = IntVector.fromArray(INTS, k, j + 10 * t);
            IntVector x11 = IntVector.fromArray(INTS, k, j + 11 * t);
            IntVector x12 = IntVector.fromArray(INTS, k, j + 12 * t);
            IntVector x13 = IntVector.fromArray(INTS, k, j + 13 * t);
            IntVector x14 = IntVector.fromArray(INTS, k, j + 14 * t);
            IntVector x15 = IntVector.fromArray(INTS, k, j + 15 * t);
            IntVector m;
            m = x0.min(x8); x8 = x0.max(x8); x0 = m;
            m = x1.min(x9); x9 = x1.max(x9); x1 = m;
            m = x2.min(x10); x10 = x2.max(x10); x2 = m;
            m = x3.min(x11); x11 = x3.max(x11); x3 = m;
            m = x4.min(x12); x12 = x4.max(x12); x4 = m;
            m = x5.min(x13); x13 = x5.max(x13); x5 = m;
            m = x6.min(x14); x14 = x6.max(x14); x6 = m;
            m = x7.min(x15); x15 = x7.max(x15); x7 = m;
            x0.intoArray(k, j + 0 * t);
            x1.intoArray(k, j + 1 * t);
            x2.intoArray(k, j + 2 * t);
            x3.intoArray(k, j + 3 * t);
            x4.intoArray(k, j + 4 * t);
            x5.intoArray(k, j + 5 * t);
            x6.intoArray(k, j + 6 * t);
            x7.intoArray(k, j + 7 * t);
            x8.intoArray(k, j + 8 * t);
            x9.intoArray(k, j + 9 * t);
            x10.intoArray(k, j + 10 * t);
            x11.intoArray(k, j + 11 * t);
            x12.intoArray(k, j + 12 * t);
            x13.intoArray(k, j + 13 * t);
            x14.intoArray(k, j + 14 * t);
            x15.intoArray(k, j + 15 * t);
        }
    }
    /** Level 4, the steps of distance 4 and 2. */
    private static void merge16Mid(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
            IntVector x8 = IntVector.fromArray(INTS, k, j + 8 * t);
            IntVector x9 = IntVector.fromArray(INTS, k, j + 9 * t);
            IntVector x10 = IntVector.fromArray(INTS, k, j + 10 * t);
            IntVector x11 = IntVector.fromArray(INTS, k, j + 11 * t);
            IntVector x12 = IntVector.fromArray(INTS, k, j + 12 * t);
            IntVector x13 = IntVector.fromArray(INTS, k, j + 13 * t);
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
            x2.intoArray(k, j + 2 * t);
            x3.intoArray(k, j + 3 * t);
            x4.intoArray(k, j + 4 * t);
            x5.intoArray(k, j + 5 * t);
            x6.intoArray(k, j + 6 * t);
            x7.intoArray(k, j + 7 * t);
            x8.intoArray(k, j + 8 * t);
            x9.intoArray(k, j + 9 * t);
            x10.intoArray(k, j + 10 * t);
            x11.intoArray(k, j + 11 * t);
            x12.intoArray(k, j + 12 * t);
            x13.intoArray(k, j + 13 * t);
        }
    }
    /** Level 4, the last step: neighbours. */
    private static void merge16Near(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x1 = IntVector.fromArray(INTS, k, j + 1 * t);
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
            IntVector x8 = IntVector.fromArray(INTS, k, j + 8 * t);
            IntVector x9 = IntVector.fromArray(INTS, k, j + 9 * t);
            IntVector x10 = IntVector.fromArray(INTS, k, j + 10 * t);
            IntVector x11 = IntVector.fromArray(INTS, k, j + 11 * t);
            IntVector x12 = IntVector.fromArray(INTS, k, j + 12 * t);
            IntVector x13 = IntVector.fromArray(INTS, k, j + 13 * t);
            IntVector x14 = IntVector.fromArray(INTS, k, j + 14 * t);
            IntVector m;
            m = x1.min(x2); x2 = x1.max(x2); x1 = m;
            m = x3.min(x4); x4 = x3.max(x4); x3 = m;
            m = x5.min(x6); x6 = x5.max(x6); x5 = m;
            m = x7.min(x8); x8 = x7.max(x8); x7 = m;
            m = x9.min(x10); x10 = x9.max(x10); x9 = m;
            m = x11.min(x12); x12 = x11.max(x12); x11 = m;
            m = x13.min(x14); x14 = x13.max(x14); x13 = m;
            x1.intoArray(k, j + 1 * t);
            x2.intoArray(k, j + 2 * t);
            x3.intoArray(k, j + 3 * t);
            x4.intoArray(k, j + 4 * t);
            x5.intoArray(k, j + 5 * t);
            x6.intoArray(k, j + 6 * t);
            x7.intoArray(k, j + 7 * t);
            x8.intoArray(k, j + 8 * t);
            x9.intoArray(k, j + 9 * t);
            x10.intoArray(k, j + 10 * t);
            x11.intoArray(k, j + 11 * t);
            x12.intoArray(k, j + 12 * t);
            x13.intoArray(k, j + 13 * t);
            x14.intoArray(k, j + 14 * t);
        }
    }

    /**
     * The selection network of {@link SortingNetwork#trimBounds} with lists of 8 rows, in registers
     * step by step (rows loaded, a few levels of comparators, rows stored) instead of a pass over the
     * tile per comparator: the same comparators in the same order on the list rows, so the same
     * bounds; the values the merges put back into the groups' rows are not stored, nothing reads them
     * afterwards. Steps of at most 16 min/max and 40 vector operations in all, as in
     * {@link #sortGroups}: a merge or an insertion in one method (56 and 65 operations) was boxed by
     * C2 once FedAvg's and the median's kernels had run in the same JVM (JFR's allocation samples:
     * gigabytes per second; the trimmed mean of 50 × 10M took 0.53–0.88 instead of about 0.4 s).
     */
    static void trimBounds8(int[] k, int[] groups, int rows) {
        int t = RobustKernels.TILE;
        sortGroups(k, groups);
        for (int gi = 1; gi < groups.length; gi++) {
            keepSmaller8(k, groups[gi]);
            bitonicTail8(k, 0);
            keepLarger8(k, groups[gi] + 8 * t);
            bitonicTail8(k, 8 * t);
        }
        for (int x = groups.length * SortingNetwork.GROUP; x < rows; x++) {
            insertLow8(k, x * t);
            insertHigh8(k, x * t);
        }
    }

    /**
     * The first half of Batcher's bitonic merge of the low list (rows 0–7, sorted) with rows a .. a + 7
     * (sorted): list row i keeps the smaller of it and row a + 7 - i (the eight smallest of both, a
     * bitonic sequence), then the sorter's first level (distance 4). {@link #keepLarger8} is the same
     * with max for the high list.
     */
    private static void keepSmaller8(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = 0; j < t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, j).min(IntVector.fromArray(INTS, k, a + j + 7 * t));
            IntVector x1 = IntVector.fromArray(INTS, k, j + t).min(IntVector.fromArray(INTS, k, a + j + 6 * t));
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t).min(IntVector.fromArray(INTS, k, a + j + 5 * t));
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t).min(IntVector.fromArray(INTS, k, a + j + 4 * t));
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t).min(IntVector.fromArray(INTS, k, a + j + 3 * t));
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t).min(IntVector.fromArray(INTS, k, a + j + 2 * t));
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t).min(IntVector.fromArray(INTS, k, a + j + t));
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t).min(IntVector.fromArray(INTS, k, a + j));
            x0.min(x4).intoArray(k, j);
            x1.min(x5).intoArray(k, j + t);
            x2.min(x6).intoArray(k, j + 2 * t);
            x3.min(x7).intoArray(k, j + 3 * t);
            x0.max(x4).intoArray(k, j + 4 * t);
            x1.max(x5).intoArray(k, j + 5 * t);
            x2.max(x6).intoArray(k, j + 6 * t);
            x3.max(x7).intoArray(k, j + 7 * t);
        }
    }

    /** As {@link #keepSmaller8} for the high list (rows 8–15, sorted): row 8 + i keeps the larger of it and row a + 7 - i. */
    private static void keepLarger8(int[] k, int a) {
        int t = RobustKernels.TILE;
        int h = 8 * t;
        for (int j = 0; j < t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, h + j).max(IntVector.fromArray(INTS, k, a + j + 7 * t));
            IntVector x1 = IntVector.fromArray(INTS, k, h + j + t).max(IntVector.fromArray(INTS, k, a + j + 6 * t));
            IntVector x2 = IntVector.fromArray(INTS, k, h + j + 2 * t).max(IntVector.fromArray(INTS, k, a + j + 5 * t));
            IntVector x3 = IntVector.fromArray(INTS, k, h + j + 3 * t).max(IntVector.fromArray(INTS, k, a + j + 4 * t));
            IntVector x4 = IntVector.fromArray(INTS, k, h + j + 4 * t).max(IntVector.fromArray(INTS, k, a + j + 3 * t));
            IntVector x5 = IntVector.fromArray(INTS, k, h + j + 5 * t).max(IntVector.fromArray(INTS, k, a + j + 2 * t));
            IntVector x6 = IntVector.fromArray(INTS, k, h + j + 6 * t).max(IntVector.fromArray(INTS, k, a + j + t));
            IntVector x7 = IntVector.fromArray(INTS, k, h + j + 7 * t).max(IntVector.fromArray(INTS, k, a + j));
            x0.min(x4).intoArray(k, h + j);
            x1.min(x5).intoArray(k, h + j + t);
            x2.min(x6).intoArray(k, h + j + 2 * t);
            x3.min(x7).intoArray(k, h + j + 3 * t);
            x0.max(x4).intoArray(k, h + j + 4 * t);
            x1.max(x5).intoArray(k, h + j + 5 * t);
            x2.max(x6).intoArray(k, h + j + 6 * t);
            x3.max(x7).intoArray(k, h + j + 7 * t);
        }
    }

    /** The bitonic sorter's last two levels (distances 2 and 1) on the 8 rows from offset a. */
    private static void bitonicTail8(int[] k, int a) {
        int t = RobustKernels.TILE;
        for (int j = a; j < a + t; j += L) {
            IntVector x0 = IntVector.fromArray(INTS, k, j);
            IntVector x1 = IntVector.fromArray(INTS, k, j + t);
            IntVector x2 = IntVector.fromArray(INTS, k, j + 2 * t);
            IntVector x3 = IntVector.fromArray(INTS, k, j + 3 * t);
            IntVector x4 = IntVector.fromArray(INTS, k, j + 4 * t);
            IntVector x5 = IntVector.fromArray(INTS, k, j + 5 * t);
            IntVector x6 = IntVector.fromArray(INTS, k, j + 6 * t);
            IntVector x7 = IntVector.fromArray(INTS, k, j + 7 * t);
            IntVector m;
            m = x0.min(x2); x2 = x0.max(x2); x0 = m;
            m = x1.min(x3); x3 = x1.max(x3); x1 = m;
            m = x4.min(x6); x6 = x4.max(x6); x4 = m;
            m = x5.min(x7); x7 = x5.max(x7); x5 = m;
            x0.min(x1).intoArray(k, j);
            x0.max(x1).intoArray(k, j + t);
            x2.min(x3).intoArray(k, j + 2 * t);
            x2.max(x3).intoArray(k, j + 3 * t);
            x4.min(x5).intoArray(k, j + 4 * t);
            x4.max(x5).intoArray(k, j + 5 * t);
            x6.min(x7).intoArray(k, j + 6 * t);
            x6.max(x7).intoArray(k, j + 7 * t);
        }
    }

    /** Row x inserted into the low list (rows 0–7); row x keeps the larger value carried on (then {@link #insertHigh8}). */
    private static void insertLow8(int[] k, int x) {
        int t = RobustKernels.TILE;
        for (int j = 0; j < t; j += L) {
            IntVector v = IntVector.fromArray(INTS, k, x + j);
            IntVector y;
            y = IntVector.fromArray(INTS, k, j);
            y.min(v).intoArray(k, j);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + t);
            y.min(v).intoArray(k, j + t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 2 * t);
            y.min(v).intoArray(k, j + 2 * t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 3 * t);
            y.min(v).intoArray(k, j + 3 * t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 4 * t);
            y.min(v).intoArray(k, j + 4 * t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 5 * t);
            y.min(v).intoArray(k, j + 5 * t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 6 * t);
            y.min(v).intoArray(k, j + 6 * t);
            v = y.max(v);
            y = IntVector.fromArray(INTS, k, j + 7 * t);
            y.min(v).intoArray(k, j + 7 * t);
            y.max(v).intoArray(k, x + j);
        }
    }

    /** Row x inserted into the high list (rows 8–15) from its top; row x keeps the smaller value carried on. */
    private static void insertHigh8(int[] k, int x) {
        int t = RobustKernels.TILE;
        int h = 8 * t;
        for (int j = 0; j < t; j += L) {
            IntVector v = IntVector.fromArray(INTS, k, x + j);
            IntVector y;
            y = IntVector.fromArray(INTS, k, h + j + 7 * t);
            y.max(v).intoArray(k, h + j + 7 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + 6 * t);
            y.max(v).intoArray(k, h + j + 6 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + 5 * t);
            y.max(v).intoArray(k, h + j + 5 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + 4 * t);
            y.max(v).intoArray(k, h + j + 4 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + 3 * t);
            y.max(v).intoArray(k, h + j + 3 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + 2 * t);
            y.max(v).intoArray(k, h + j + 2 * t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j + t);
            y.max(v).intoArray(k, h + j + t);
            v = y.min(v);
            y = IntVector.fromArray(INTS, k, h + j);
            y.max(v).intoArray(k, h + j);
            y.min(v).intoArray(k, x + j);
        }
    }

    /**
     * Per comparator, a loop over the two rows' vectors of columns (the rows in L1), its indices
     * linear in the loop variable so that C2 checks the bounds once per comparator; written out as
     * eight vectors straight-line it took 2.2 instead of 1.75 µs per tile of 50 rows, every load and
     * store checked.
     */
    static void sortTile(int[] k, int[] groups, int[] lo, int[] hi) {
        sortGroups(k, groups);
        exchange(k, lo, hi);
    }

    private static void exchange(int[] k, int[] lo, int[] hi) {
        for (int i = 0; i < lo.length; i++) {
            exchangeRows(k, lo[i], hi[i]);
        }
    }

    private static void exchangeRows(int[] k, int a, int b) {
        for (int j = 0; j < RobustKernels.TILE; j += L) {
            IntVector x = IntVector.fromArray(INTS, k, a + j);
            IntVector y = IntVector.fromArray(INTS, k, b + j);
            x.min(y).intoArray(k, a + j);
            x.max(y).intoArray(k, b + j);
        }
    }

    /*
     * The mean and the median first turn keys back into floats with the same 512-bit (preferred)
     * int vectors as every other int operation here, into a float scratch, and then widen with
     * FloatVector.fromArray(HALF_FLOATS).convertShape as the FedAvg kernels do. Widening straight
     * from half-width int vectors mixed two int shapes in the same JDK call sites; C2 then lost the
     * exact vector type and boxed every vector (measured: 8 times slower, and allocating). For the
     * same reason floats and ints are viewed as each other with convertShape(REINTERPRET_*, species)
     * naming this class's constant species, not with reinterpretAsInts / reinterpretAsFloats, which
     * the widening for Krum's pass once called on another shape (with those, keysTile boxed once Krum
     * had run), nor with viewAsIntegralLanes / viewAsFloatingLanes: those look the species up from the
     * vector's, and C2 once failed to fold that lookup to a constant (-XX:+PrintIntrinsics: "missing
     * constant") and left the store after it boxed.
     */

    /** f[i, i + count) = the floats of keys k[i, i + count), count a multiple of L. */
    private static void keysToFloats(int[] k, float[] f, int from, int to) {
        for (int i = from; i < to; i += L) {
            IntVector v = IntVector.fromArray(INTS, k, i);
            ((FloatVector) v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                    .convertShape(VectorOperators.REINTERPRET_I2F, FLOATS, 0)).intoArray(f, i);
        }
    }

    /** f[to, to + TILE) = the floats of the row of keys k[from, from + TILE). */
    private static void keyRowToFloats(int[] k, int from, float[] f, int to) {
        for (int j = 0; j < RobustKernels.TILE; j += L) {
            IntVector v = IntVector.fromArray(INTS, k, from + j);
            ((FloatVector) v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                    .convertShape(VectorOperators.REINTERPRET_I2F, FLOATS, 0)).intoArray(f, to + j);
        }
    }

    /**
     * The trimmed mean of a tile whose bounds a {@link SortingNetwork#trimBounds} network left in
     * rows lowRow and highRow of the keys k (see {@link RobustKernels#trimmedMeanTile}): the bounds as
     * floats into the scratch after its first {@code rows} rows, every client's values clamped to them
     * into those rows (counting the clamped ones), then the sum.
     */
    static void trimmedMeanTile(float[][] x, int rows, int from, int[] k, int lowRow, int highRow, int trim, float[] out,
            int at, float[] lanes, float[] scratch, double[] acc) {
        int tile = RobustKernels.TILE;
        int bounds = rows * tile;
        keyRowToFloats(k, lowRow * tile, scratch, bounds);
        keyRowToFloats(k, highRow * tile, scratch, bounds + tile);
        clampRows(x, rows, from, scratch, bounds, lanes);
        sumClamped(scratch, rows, trim, out, at, acc);
    }

    /** Floats per client in the lane counts of {@link #trimmedMeanTile}: L below, then L above. */
    static int countLanes() {
        return 2 * L;
    }

    /**
     * Client by client: values below the low bound become it, above the high one it. The clamped
     * values are counted per lane, 1.0 added under the compare's mask to float vectors kept in
     * {@code lanes} (client c's at c × {@link #countLanes()}) from tile to tile and added up only
     * by {@link #flushCounts}: exact up to 2^24 per lane, at most TILE / L per tile. A
     * {@code trueCount} per vector of columns took a third of the trimmed mean's time (2.7 against
     * 1.5 µs per tile of 50 rows), adding the lanes up per client and tile still a fifth (2.05
     * against 1.6 µs). Two clients per pass (the bounds loaded once for both), then the last one of
     * an odd number alone: like {@link #keysTile}, larger than FreqInlineSize on purpose, so that C2
     * compiles it apart; it was this method's stores that failed to intrinsify when it was inlined.
     */
    private static void clampRows(float[][] x, int rows, int from, float[] scratch, int bounds, float[] lanes) {
        int tile = RobustKernels.TILE;
        FloatVector zero = FloatVector.zero(FLOATS);
        FloatVector one = FloatVector.broadcast(FLOATS, 1.0f);
        int c = 0;
        for (; c + 2 <= rows; c += 2) {
            float[] x0 = x[c];
            float[] x1 = x[c + 1];
            int base = c * tile;
            int l0 = 2 * L * c;
            FloatVector below0 = FloatVector.fromArray(FLOATS, lanes, l0);
            FloatVector above0 = FloatVector.fromArray(FLOATS, lanes, l0 + L);
            FloatVector below1 = FloatVector.fromArray(FLOATS, lanes, l0 + 2 * L);
            FloatVector above1 = FloatVector.fromArray(FLOATS, lanes, l0 + 3 * L);
            for (int j = 0; j < tile; j += L) {
                FloatVector lo = FloatVector.fromArray(FLOATS, scratch, bounds + j);
                FloatVector hi = FloatVector.fromArray(FLOATS, scratch, bounds + tile + j);
                FloatVector y0 = FloatVector.fromArray(FLOATS, x0, from + j);
                FloatVector y1 = FloatVector.fromArray(FLOATS, x1, from + j);
                VectorMask<Float> under0 = y0.lt(lo);
                VectorMask<Float> over0 = hi.lt(y0);
                VectorMask<Float> under1 = y1.lt(lo);
                VectorMask<Float> over1 = hi.lt(y1);
                below0 = below0.add(zero.blend(one, under0));
                above0 = above0.add(zero.blend(one, over0));
                below1 = below1.add(zero.blend(one, under1));
                above1 = above1.add(zero.blend(one, over1));
                y0.blend(lo, under0).blend(hi, over0).intoArray(scratch, base + j);
                y1.blend(lo, under1).blend(hi, over1).intoArray(scratch, base + tile + j);
            }
            below0.intoArray(lanes, l0);
            above0.intoArray(lanes, l0 + L);
            below1.intoArray(lanes, l0 + 2 * L);
            above1.intoArray(lanes, l0 + 3 * L);
        }
        if (c < rows) {
            float[] xc = x[c];
            int base = c * tile;
            FloatVector below = FloatVector.fromArray(FLOATS, lanes, 2 * L * c);
            FloatVector above = FloatVector.fromArray(FLOATS, lanes, 2 * L * c + L);
            for (int j = 0; j < tile; j += L) {
                FloatVector y = FloatVector.fromArray(FLOATS, xc, from + j);
                FloatVector lo = FloatVector.fromArray(FLOATS, scratch, bounds + j);
                FloatVector hi = FloatVector.fromArray(FLOATS, scratch, bounds + tile + j);
                VectorMask<Float> under = y.lt(lo);
                VectorMask<Float> over = hi.lt(y);
                below = below.add(zero.blend(one, under));
                above = above.add(zero.blend(one, over));
                y.blend(lo, under).blend(hi, over).intoArray(scratch, base + j);
            }
            below.intoArray(lanes, 2 * L * c);
            above.intoArray(lanes, 2 * L * c + L);
        }
    }

    /** Adds the lane counts of {@link #clampRows} to low and high and zeroes them. */
    static void flushCounts(float[] lanes, int rows, long[] low, long[] high) {
        for (int c = 0; c < rows; c++) {
            long below = 0;
            long above = 0;
            for (int i = 0; i < L; i++) {
                below += (long) lanes[2 * L * c + i];
                above += (long) lanes[2 * L * c + L + i];
            }
            low[c] += below;
            high[c] += above;
        }
        java.util.Arrays.fill(lanes, 0, 2 * L * rows, 0.0f);
    }

    /**
     * Per DL columns, the clamped rows are added in client order four at a time
     * ({@code ((((acc + r) + r1) + r2) + r3)}, the scalar order) to sums kept in {@code acc} between
     * passes, then trim times each bound is taken off and the rest divided. The sums are kept in
     * memory, not in a register across the loop over the rows: carried through that loop, C2 left
     * them boxed in some runs (an allocation per row and DL columns, twice as slow). A method of its
     * own, larger than C2's FreqInlineSize (344 bytecodes against 325), so that C2 compiles it apart:
     * inlined into {@code CoordinateFold.unit} after the block reads and the other kernels, the
     * widening met the end of C2's inlining budget for that method (NodeCountInliningCutoff in
     * -XX:+PrintInlining), was left as calls and every vector boxed.
     */
    private static void sumClamped(float[] scratch, int rows, int trim, float[] out, int at, double[] acc) {
        int tile = RobustKernels.TILE;
        for (int j = 0; j < tile; j += DL) {
            DoubleVector.zero(DOUBLES).intoArray(acc, j); // from 0.0, as the scalar sum: -0.0 + 0.0 = 0.0
        }
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int b = r * tile;
            for (int j = 0; j < tile; j += DL) {
                DoubleVector.fromArray(DOUBLES, acc, j).add(widened(scratch, b + j)).add(widened(scratch, b + tile + j))
                        .add(widened(scratch, b + 2 * tile + j)).add(widened(scratch, b + 3 * tile + j)).intoArray(acc, j);
            }
        }
        for (; r < rows; r++) {
            int b = r * tile;
            for (int j = 0; j < tile; j += DL) {
                DoubleVector.fromArray(DOUBLES, acc, j).add(widened(scratch, b + j)).intoArray(acc, j);
            }
        }
        double t = trim;
        double count = rows - 2 * trim;
        int bounds = rows * tile;
        for (int j = 0; j < tile; j += DL) {
            ((FloatVector) DoubleVector.fromArray(DOUBLES, acc, j).sub(widened(scratch, bounds + j).mul(t))
                    .sub(widened(scratch, bounds + tile + j).mul(t)).div(count)
                    .convertShape(VectorOperators.D2F, HALF_FLOATS, 0)).intoArray(out, at + j);
        }
    }

    private static DoubleVector widened(float[] x, int j) {
        return (DoubleVector) FloatVector.fromArray(HALF_FLOATS, x, j).convertShape(VectorOperators.F2D, DOUBLES, 0);
    }

    static void medianTile(int[] k, int rows, float[] out, int at, float[] scratch) {
        int tile = RobustKernels.TILE;
        int h = (rows >> 1) * tile;
        if ((rows & 1) == 1) {
            for (int j = 0; j < tile; j += L) {
                IntVector v = IntVector.fromArray(INTS, k, h + j);
                ((FloatVector) v.lanewise(VectorOperators.XOR, v.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff))
                        .convertShape(VectorOperators.REINTERPRET_I2F, FLOATS, 0)).intoArray(out, at + j);
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
