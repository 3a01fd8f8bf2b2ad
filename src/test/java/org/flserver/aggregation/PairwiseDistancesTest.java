package org.flserver.aggregation;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Krum's pairwise distances: the scalar loops follow the order the class comment of
 * {@link PairwiseDistances} documents, and the register-blocked vector form gives their bits for
 * every number of rows (every padding of its 4-row groups) and every length (tiles and tails).
 */
class PairwiseDistancesTest {

    @Test
    void squaredDistanceFollowsTheDocumentedOrder() {
        SplittableRandom r = new SplittableRandom(4);
        for (int len = 0; len < 40; len++) {
            double[] a = new double[len];
            double[] b = new double[len];
            for (int j = 0; j < len; j++) {
                a[j] = r.nextDouble(-1e3, 1e3);
                b[j] = r.nextDouble(-1e-3, 1e-3);
            }
            double[] s = new double[8];
            for (int j = 0; j < len; j++) {
                double e = a[j] - b[j];
                s[j % 8] = Math.fma(e, e, s[j % 8]);
            }
            double want = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            assertEquals(want, PairwiseDistances.squaredDistance(a, b, len), 0.0);
        }
    }

    @Test
    void addAllAddsEveryPairAtItsIndex() {
        double[][] x = {{0, 0}, {3, 4}, {1, 0}, {0, -2}, {5, 5}};
        double[] total = new double[10];
        java.util.Arrays.fill(total, 1.0);
        PairwiseDistances.addAll(x, 5, 2, total);
        for (int a = 0; a < 5; a++) {
            for (int b = a + 1; b < 5; b++) {
                double dx = x[a][0] - x[b][0];
                double dy = x[a][1] - x[b][1];
                assertEquals(1.0 + dx * dx + dy * dy, total[PairwiseDistances.pairIndex(a, b, 5)], 0.0,
                        "pair " + a + "," + b);
            }
        }
    }

    @Test
    void vectorFormGivesTheScalarBits() {
        assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                && VectorPairwiseDistances.supported(), "no 8-lane double vectors here: only the scalar loops run");
        assertTrue(PairwiseDistances.VECTOR, "the probe must have chosen the vector form");
        SplittableRandom r = new SplittableRandom(5);
        // one scratch for every call, as a thread of Krum keeps it: what a call leaves in it (NaN
        // before the first) must not reach the next call's sums
        double[] scratch = new double[VectorPairwiseDistances.accumulators(53)];
        java.util.Arrays.fill(scratch, Double.NaN);
        for (int rows = 1; rows <= 53; rows++) {
            int n = r.nextInt(rows < 12 ? 1200 : 300); // beyond one tile for small N; tails of 0..7
            double[][] x = new double[rows][n];
            for (double[] row : x) {
                for (int j = 0; j < n; j++) {
                    row[j] = switch (r.nextInt(10)) {
                        case 0 -> Float.MAX_VALUE;
                        case 1 -> -Float.MIN_VALUE;
                        case 2 -> 0.0;
                        default -> (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-40, 40)));
                    };
                }
            }
            if (rows > 3) {
                x[2] = x[1].clone(); // a tie: distance exactly zero
            }
            int pairs = rows * (rows - 1) / 2;
            double[] v = new double[pairs];
            double[] s = new double[pairs];
            for (int p = 0; p < pairs; p++) {
                v[p] = s[p] = r.nextDouble();
            }
            VectorPairwiseDistances.addAll(x, rows, n, v, scratch);
            PairwiseDistances.scalarAddAll(x, rows, n, s);
            for (int p = 0; p < pairs; p++) {
                assertEquals(Double.doubleToRawLongBits(s[p]), Double.doubleToRawLongBits(v[p]),
                        "pair " + p + " of " + rows + " rows, n = " + n);
            }
        }
    }
}
