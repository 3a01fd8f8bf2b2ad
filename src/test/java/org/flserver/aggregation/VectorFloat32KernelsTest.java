package org.flserver.aggregation;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Vector API loops against the scalar rule, bit for bit. The unit-test JVM runs with
 * {@code --add-modules=jdk.incubator.vector} (pom), so the aggregation tests use these loops too;
 * the first test makes sure that stays so, or every other test here would only cover the scalar path.
 */
class VectorFloat32KernelsTest {

    private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            1e-30f, 3.4e38f, 0.1f, -7.25f};

    @Test
    void theTestJvmUsesTheVectorLoops() {
        assertTrue(Float32Kernels.VECTOR, "the unit tests must run with " + "--add-modules=jdk.incubator.vector");
        assertEquals("Vector API (jdk.incubator.vector)", StreamingFedAvg.float32Kernels());
    }

    @Test
    void foldsAndFinishesLikeTheScalarRule() {
        Random rnd = new Random(7);
        for (int run = 0; run < 200; run++) {
            int n = rnd.nextInt(150);
            float[][] x = new float[5][n];
            for (float[] row : x) {
                for (int j = 0; j < n; j++) {
                    row[j] = rnd.nextInt(6) == 0 ? SPECIAL[rnd.nextInt(SPECIAL.length)]
                            : (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(12) - 6));
                }
            }
            double[] w = new double[5];
            for (int c = 0; c < 5; c++) {
                w[c] = rnd.nextBoolean() ? 1 + rnd.nextInt(5000) : rnd.nextDouble() * 100;
            }
            double[] vector = new double[n];
            VectorFloat32Kernels.fold4(vector, true, x[0], w[0], x[1], w[1], x[2], w[2], x[3], w[3], n);
            VectorFloat32Kernels.fold1(vector, false, x[4], w[4], n);
            double[] restarted = vector.clone();
            VectorFloat32Kernels.fold1(restarted, true, x[4], w[4], n);
            double total = w[0] + w[1] + w[2] + w[3] + w[4];
            float[] means = new float[n];
            VectorFloat32Kernels.finish(means, vector, total, n);
            for (int j = 0; j < n; j++) {
                double acc = 0.0;
                for (int c = 0; c < 5; c++) {
                    acc += (double) x[c][j] * w[c];
                }
                String where = "run " + run + ", element " + j + " of " + n;
                assertEquals(Double.doubleToRawLongBits(acc), Double.doubleToRawLongBits(vector[j]), where);
                assertEquals(Double.doubleToRawLongBits(0.0 + (double) x[4][j] * w[4]),
                        Double.doubleToRawLongBits(restarted[j]), where);
                assertEquals(Float.floatToRawIntBits((float) (acc / total)), Float.floatToRawIntBits(means[j]), where);
            }
        }
    }
}
