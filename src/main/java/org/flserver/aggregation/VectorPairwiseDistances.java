package org.flserver.aggregation;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The Vector API form of {@link PairwiseDistances}: the rows are taken four by four, and a block of
 * 4 × 4 pairs is computed at once, its sixteen accumulator vectors (eight lanes: the eight
 * interleaved sums of the class comment of {@link PairwiseDistances}) held in registers while eight
 * row vectors are loaded per step. A pair at a time, each step would load two vectors for one
 * subtraction and one fused multiply-add, and the loads, not the arithmetic, would bound the speed;
 * sixteen pairs per eight loads leave the arithmetic as the limit. The components are taken in
 * tiles small enough that the rows of a tile stay in the core's cache while every block of pairs
 * passes over them, and the accumulators are kept across tiles, so the order of the additions, and
 * the bits, are those of the scalar loops. Only loaded when {@code jdk.incubator.vector} is in the
 * boot layer.
 */
final class VectorPairwiseDistances {

    /** Eight doubles: one vector is a pair's eight accumulators. */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_512;
    /**
     * Components per tile: the N rows of a tile take N × 4 KiB (200 KiB for 50 clients), within
     * the L2 cache, and the four rows of a block's left side (16 KiB) stay in L1 while the right
     * sides pass.
     */
    private static final int TILE = 512;
    /** Doubles of accumulators per block of 4 × 4 pairs. */
    private static final int BLOCK = 16 * 8;

    private VectorPairwiseDistances() {
    }

    /** Whether the machine has 8-lane double vectors (without them the scalar loops are faster). */
    static boolean supported() {
        return DoubleVector.SPECIES_PREFERRED.length() >= 8;
    }

    /** Doubles of accumulators for this many rows: one block per pair of 4-row groups. */
    static int accumulators(int rows) {
        int groups = (rows + 3) >> 2;
        return groups * (groups + 1) / 2 * BLOCK;
    }

    /** Adds the pairs' distances over [0, n) to total; acc: at least {@link #accumulators}(rows) doubles, any content. */
    static void addAll(double[][] x, int rows, int n, double[] total, double[] acc) {
        int groups = (rows + 3) >> 2;
        double[][] r = new double[groups * 4][];
        for (int i = 0; i < r.length; i++) {
            r[i] = x[Math.min(i, rows - 1)]; // padding rows repeat the last; their pairs are dropped
        }
        Arrays.fill(acc, 0, accumulators(rows), 0.0);
        int full = n & ~7;
        for (int t0 = 0; t0 < full; t0 += TILE) {
            int t1 = Math.min(full, t0 + TILE);
            int off = 0;
            for (int g = 0; g < groups; g++) {
                for (int h = g; h < groups; h++) {
                    block(r[4 * g], r[4 * g + 1], r[4 * g + 2], r[4 * g + 3],
                            r[4 * h], r[4 * h + 1], r[4 * h + 2], r[4 * h + 3], t0, t1, acc, off);
                    off += BLOCK;
                }
            }
        }
        double[] s = new double[8];
        int off = 0;
        for (int g = 0; g < groups; g++) {
            for (int h = g; h < groups; h++) {
                for (int i = 0; i < 4; i++) {
                    for (int k = 0; k < 4; k++) {
                        int a = 4 * g + i;
                        int b = 4 * h + k;
                        if (a < b && b < rows) {
                            System.arraycopy(acc, off + 8 * (4 * i + k), s, 0, 8);
                            total[PairwiseDistances.pairIndex(a, b, rows)] +=
                                    PairwiseDistances.finish(s, x[a], x[b], full, n);
                        }
                    }
                }
                off += BLOCK;
            }
        }
    }

    /** The sixteen pairs (a_i, b_k) over components [t0, t1) (multiples of 8), accumulators at acc[off..]. */
    private static void block(double[] a0, double[] a1, double[] a2, double[] a3,
            double[] b0, double[] b1, double[] b2, double[] b3, int t0, int t1, double[] acc, int off) {
        DoubleVector s00 = DoubleVector.fromArray(D, acc, off);
        DoubleVector s01 = DoubleVector.fromArray(D, acc, off + 8);
        DoubleVector s02 = DoubleVector.fromArray(D, acc, off + 16);
        DoubleVector s03 = DoubleVector.fromArray(D, acc, off + 24);
        DoubleVector s10 = DoubleVector.fromArray(D, acc, off + 32);
        DoubleVector s11 = DoubleVector.fromArray(D, acc, off + 40);
        DoubleVector s12 = DoubleVector.fromArray(D, acc, off + 48);
        DoubleVector s13 = DoubleVector.fromArray(D, acc, off + 56);
        DoubleVector s20 = DoubleVector.fromArray(D, acc, off + 64);
        DoubleVector s21 = DoubleVector.fromArray(D, acc, off + 72);
        DoubleVector s22 = DoubleVector.fromArray(D, acc, off + 80);
        DoubleVector s23 = DoubleVector.fromArray(D, acc, off + 88);
        DoubleVector s30 = DoubleVector.fromArray(D, acc, off + 96);
        DoubleVector s31 = DoubleVector.fromArray(D, acc, off + 104);
        DoubleVector s32 = DoubleVector.fromArray(D, acc, off + 112);
        DoubleVector s33 = DoubleVector.fromArray(D, acc, off + 120);
        for (int j = t0; j < t1; j += 8) {
            DoubleVector x0 = DoubleVector.fromArray(D, a0, j);
            DoubleVector x1 = DoubleVector.fromArray(D, a1, j);
            DoubleVector x2 = DoubleVector.fromArray(D, a2, j);
            DoubleVector x3 = DoubleVector.fromArray(D, a3, j);
            DoubleVector y0 = DoubleVector.fromArray(D, b0, j);
            DoubleVector y1 = DoubleVector.fromArray(D, b1, j);
            DoubleVector y2 = DoubleVector.fromArray(D, b2, j);
            DoubleVector y3 = DoubleVector.fromArray(D, b3, j);
            DoubleVector e;
            e = x0.sub(y0);
            s00 = e.fma(e, s00);
            e = x0.sub(y1);
            s01 = e.fma(e, s01);
            e = x0.sub(y2);
            s02 = e.fma(e, s02);
            e = x0.sub(y3);
            s03 = e.fma(e, s03);
            e = x1.sub(y0);
            s10 = e.fma(e, s10);
            e = x1.sub(y1);
            s11 = e.fma(e, s11);
            e = x1.sub(y2);
            s12 = e.fma(e, s12);
            e = x1.sub(y3);
            s13 = e.fma(e, s13);
            e = x2.sub(y0);
            s20 = e.fma(e, s20);
            e = x2.sub(y1);
            s21 = e.fma(e, s21);
            e = x2.sub(y2);
            s22 = e.fma(e, s22);
            e = x2.sub(y3);
            s23 = e.fma(e, s23);
            e = x3.sub(y0);
            s30 = e.fma(e, s30);
            e = x3.sub(y1);
            s31 = e.fma(e, s31);
            e = x3.sub(y2);
            s32 = e.fma(e, s32);
            e = x3.sub(y3);
            s33 = e.fma(e, s33);
        }
        s00.intoArray(acc, off);
        s01.intoArray(acc, off + 8);
        s02.intoArray(acc, off + 16);
        s03.intoArray(acc, off + 24);
        s10.intoArray(acc, off + 32);
        s11.intoArray(acc, off + 40);
        s12.intoArray(acc, off + 48);
        s13.intoArray(acc, off + 56);
        s20.intoArray(acc, off + 64);
        s21.intoArray(acc, off + 72);
        s22.intoArray(acc, off + 80);
        s23.intoArray(acc, off + 88);
        s30.intoArray(acc, off + 96);
        s31.intoArray(acc, off + 104);
        s32.intoArray(acc, off + 112);
        s33.intoArray(acc, off + 120);
    }
}
