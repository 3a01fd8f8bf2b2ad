package org.flserver.aggregation;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WeightedVectorMeanTest {

    @Test
    void followsTheFedAvgRoundingRule() {
        Random r = new Random(7);
        int n = 1000;
        float[][] v = new float[5][n];
        double[] w = {10, 30, 60, 0, 2.5};
        for (float[] row : v) {
            for (int j = 0; j < n; j++) {
                row[j] = (float) r.nextGaussian();
            }
        }
        WeightedVectorMean m = new WeightedVectorMean(n);
        for (int i = 0; i < v.length; i++) {
            m.add(v[i], w[i]);
        }
        float[] got = m.meanAsFloat();
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int i = 0; i < v.length; i++) {
                acc += (double) v[i][j] * w[i];
            }
            assertEquals((float) (acc / 102.5), got[j]);
        }
        assertEquals(5, m.count());
    }

    @Test
    void copiesOfOneVectorAverageToThemselves() {
        float[] x = {1.1f, -0.0f, Float.MIN_VALUE, 3e38f, -7.25f};
        WeightedVectorMean m = new WeightedVectorMean(x.length);
        m.add(x, 3);
        m.add(x, 4);
        float[] got = m.meanAsFloat();
        for (int j = 0; j < x.length; j++) {
            assertEquals(Math.abs(x[j]), Math.abs(got[j]));
        }
        assertArrayEquals(new double[]{2.0}, meanOf(new double[]{1.0}, new double[]{3.0}));
    }

    private static double[] meanOf(double[] a, double[] b) {
        WeightedVectorMean m = new WeightedVectorMean(1);
        m.add(a, 1);
        m.add(b, 1);
        return m.mean();
    }

    @Test
    void refusesBadInput() {
        WeightedVectorMean m = new WeightedVectorMean(2);
        assertThrows(IllegalArgumentException.class, m::meanAsFloat);
        assertThrows(IllegalArgumentException.class, () -> m.add(new float[3], 1));
        assertThrows(IllegalArgumentException.class, () -> m.add(new float[2], -1));
        m.add(new float[2], 0);
        assertThrows(IllegalArgumentException.class, m::mean);
    }
}
