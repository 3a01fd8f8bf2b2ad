package org.flserver.aggregation;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The selection behind the median for N beyond the fixtures' 12: for N = 1..120, random values with
 * many ties and distinct values, the median and every order statistic equal those of a full sort.
 */
class CoordinateFoldTest {

    @Test
    void selectionGivesTheOrderStatisticsOfASort() {
        SplittableRandom r = new SplittableRandom(14);
        for (int n = 1; n <= 120; n++) {
            for (int trial = 0; trial < 20; trial++) {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) {
                    v[i] = trial % 2 == 0 ? r.nextInt(4) : r.nextGaussian();
                }
                double[] sorted = v.clone();
                Arrays.sort(sorted);
                double want = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
                assertEquals(want, CoordinateFold.median(v.clone(), n), "median, n = " + n);
                int k = r.nextInt(n);
                double[] w = v.clone();
                assertEquals(sorted[k], CoordinateFold.select(w, n, k), "select " + k + " of " + n);
                for (int i = 0; i < n; i++) {
                    if (i < k) {
                        assertEquals(true, w[i] <= w[k]);
                    } else if (i > k) {
                        assertEquals(true, w[i] >= w[k]);
                    }
                }
                double[] s = v.clone();
                CoordinateFold.sort(s, n);
                assertEquals(Arrays.toString(sorted), Arrays.toString(s));
            }
        }
    }
}
