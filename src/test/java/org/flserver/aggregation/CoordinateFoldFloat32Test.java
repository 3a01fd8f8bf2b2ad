package org.flserver.aggregation;

import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The float32 path of the median and the trimmed mean for N beyond the fixtures' 12 (where the
 * sorting networks sort groups of 16 rows first), with a storage length and block sizes that are not
 * multiples of the tile: every output float is bit-identical to the definition computed here per
 * coordinate from a sort (median: the middle value, or the mean of the two middle values in double;
 * trimmed mean: every client's value clamped to the (trim + 1)-th smallest and largest, L and H,
 * summed in client order from 0.0 in double, trim·L and trim·H taken off, divided, rounded once), and
 * the trim counts per client equal the values strictly below / above the kept ones.
 */
class CoordinateFoldFloat32Test {

    private static final int ELEMENTS = 1_000;
    private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1f, -1f,
            Float.MAX_VALUE, -Float.MAX_VALUE, 0.1f};

    @TempDir
    Path dir;

    @Test
    void everyCoordinateFollowsTheDefinition() throws Exception {
        SplittableRandom r = new SplittableRandom(21);
        for (int n : new int[] {13, 16, 17, 32, 47, 50}) {
            float[][] x = new float[n][ELEMENTS];
            List<WeightedFile> clients = new ArrayList<>();
            for (int c = 0; c < n; c++) {
                for (int j = 0; j < ELEMENTS; j++) {
                    int kind = r.nextInt(8);
                    x[c][j] = kind == 0 ? SPECIAL[r.nextInt(SPECIAL.length)]
                            : kind == 1 ? r.nextInt(-2, 3) // ties
                            : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-20, 21)));
                }
                Path f = dir.resolve("n" + n + "-c" + c + ".safetensors");
                Float32FoldTest.write(f, x[c]);
                clients.add(new WeightedFile(f, 1 + c % 3));
            }
            int[] median = new int[ELEMENTS];
            for (int j = 0; j < ELEMENTS; j++) {
                float[] col = column(x, j);
                int h = n / 2;
                median[j] = Float.floatToRawIntBits(n % 2 == 1 ? col[h] : (float) (((double) col[h - 1] + col[h]) / 2));
            }
            for (RobustAggregation agg : aggregations()) {
                Path out = dir.resolve("median-" + n + ".safetensors");
                agg.aggregate(AggregationRule.median(), clients, clients.get(0).path(), out);
                assertBits(median, out, "median, N = " + n);
            }
            // β = 0.1 keeps trim below 8 (the selection networks for N >= 16), 0.2 goes beyond it from N = 40
            for (double beta : new double[] {0.1, 0.2}) {
                int trim = (int) Math.floor(beta * n);
                int[] trimmed = new int[ELEMENTS];
                long[] low = new long[n];
                long[] high = new long[n];
                for (int j = 0; j < ELEMENTS; j++) {
                    float[] col = column(x, j);
                    float lo = col[trim];
                    float hi = col[n - trim - 1];
                    double sum = 0.0;
                    for (int c = 0; c < n; c++) {
                        sum += Math.min(Math.max(x[c][j], lo), hi);
                    }
                    trimmed[j] = Float.floatToRawIntBits((float) ((sum - (double) trim * lo - (double) trim * hi) / (n - 2 * trim)));
                    for (int c = 0; c < n; c++) {
                        low[c] += x[c][j] < lo ? 1 : 0;
                        high[c] += x[c][j] > hi ? 1 : 0;
                    }
                }
                for (RobustAggregation agg : aggregations()) {
                    Path out = dir.resolve("trimmed-" + n + ".safetensors");
                    AggregationReport report = agg.aggregate(AggregationRule.trimmedMean(beta), clients, clients.get(0).path(), out);
                    String what = "trimmed mean, β = " + beta + ", N = " + n;
                    assertBits(trimmed, out, what);
                    assertEquals(trim, report.trimmedPerSide());
                    for (int c = 0; c < n; c++) {
                        assertEquals(low[c], report.clients().get(c).trimmedLow(), what + ", trimmed low of client " + c);
                        assertEquals(high[c], report.clients().get(c).trimmedHigh(), what + ", trimmed high of client " + c);
                    }
                }
            }
        }
    }

    private static List<RobustAggregation> aggregations() {
        return List.of(new RobustAggregation(), new RobustAggregation(1, 300, PicklePolicy.standard()),
                new RobustAggregation(2, 1024, PicklePolicy.standard()));
    }

    /** Column j of x, sorted. */
    private static float[] column(float[][] x, int j) {
        float[] col = new float[x.length];
        for (int c = 0; c < x.length; c++) {
            col[c] = x[c][j];
        }
        Arrays.sort(col);
        return col;
    }

    private static void assertBits(int[] expected, Path out, String what) throws Exception {
        ByteBuffer data = Float32FoldTest.payload(out);
        for (int j = 0; j < ELEMENTS; j++) {
            int got = Float.floatToRawIntBits(data.getFloat(j * 4));
            if (got != expected[j]) {
                assertEquals(Integer.toHexString(expected[j]), Integer.toHexString(got), what + ", element " + j);
            }
        }
    }
}
