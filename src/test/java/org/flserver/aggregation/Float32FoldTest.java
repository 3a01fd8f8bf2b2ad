package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.pytorch.PicklePolicy;
import org.flserver.tensor.safetensors.SafetensorsReader;
import org.flserver.tensor.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The float32 path folds several clients per pass over the accumulator; this checks, for every
 * client count from 1 to 9 (so every remainder of the folding), several block sizes and thread
 * counts, mapped and positional reads, and values including signed zeros, subnormals, infinities and NaN, that each output float is
 * bit-identical to the rule {@code acc = 0.0; acc += (double) x_i * w_i in client order; (float) (acc / W)}.
 */
class Float32FoldTest {

    private static final int ELEMENTS = 10_007;
    private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            1e-30f, 3.4e38f, 0.1f, -7.25f};
    private static final float[] CANCEL = {1.0f, 1e30f, -1e30f, 3.0f, 0.1f, -1e25f, 1e25f};

    @TempDir
    Path dir;

    @Test
    void everyClientCountMatchesTheSequentialRule() throws Exception {
        Random rnd = new Random(42);
        for (int run = 0; run < 18; run++) {
            int n = run % 9 + 1;
            boolean unitWeights = run >= 9; // then cancellations make any reordering visible
            float[][] x = new float[n][ELEMENTS];
            double[] w = new double[n];
            List<WeightedFile> clients = new ArrayList<>();
            for (int c = 0; c < n; c++) {
                w[c] = unitWeights ? 1 : c % 3 == 0 ? 1 + rnd.nextInt(1000) : rnd.nextDouble() * 50 + 0.001;
                for (int j = 0; j < ELEMENTS; j++) {
                    x[c][j] = j < 40 && rnd.nextInt(4) == 0 ? SPECIAL[rnd.nextInt(SPECIAL.length)]
                            : unitWeights ? CANCEL[(c + j) % CANCEL.length]
                            : (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(8) - 4));
                }
                Path f = dir.resolve("r" + run + "-c" + c + ".safetensors");
                write(f, x[c]);
                clients.add(new WeightedFile(f, w[c]));
            }
            double total = 0;
            for (double v : w) {
                total += v;
            }
            int[] expected = new int[ELEMENTS];
            for (int j = 0; j < ELEMENTS; j++) {
                double acc = 0.0;
                for (int c = 0; c < n; c++) {
                    acc += (double) x[c][j] * w[c];
                }
                expected[j] = Float.floatToRawIntBits((float) (acc / total));
            }
            for (StreamingFedAvg avg : List.of(new StreamingFedAvg(), new StreamingFedAvg(1, 3, PicklePolicy.standard()),
                    new StreamingFedAvg(2, 1000, PicklePolicy.standard()),
                    new StreamingFedAvg(2, 1000, PicklePolicy.standard(), false),
                    new StreamingFedAvg(1, 64, PicklePolicy.standard(), false),
                    // the scalar loops, where the Vector API loops are used by default
                    new StreamingFedAvg(2, 1000, PicklePolicy.standard(), true, false),
                    new StreamingFedAvg(1, 64, PicklePolicy.standard(), false, false))) {
                Path out = dir.resolve("out-" + run + ".safetensors");
                avg.aggregate(clients, clients.get(0).path(), out);
                ByteBuffer data = payload(out);
                for (int j = 0; j < ELEMENTS; j++) {
                    int got = Float.floatToRawIntBits(data.getFloat(j * 4));
                    if (got != expected[j]) {
                        assertEquals(Integer.toHexString(expected[j]), Integer.toHexString(got),
                                "run " + run + ", " + n + " clients, element " + j);
                    }
                }
            }
        }
    }

    /** One float32 safetensors tensor "w" holding v. */
    static void write(Path f, float[] v) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        SafetensorsWriter.write(f, Map.of(), List.of(new SafetensorsWriter.Tensor("w", DType.FLOAT32,
                List.of((long) v.length), b)));
    }

    /** The bytes of the first storage of a safetensors file, little-endian. */
    static ByteBuffer payload(Path f) throws Exception {
        var s = SafetensorsReader.read(f).storages().get(0);
        byte[] all = Files.readAllBytes(f);
        return ByteBuffer.wrap(all, (int) s.offset(), (int) s.length()).slice().order(ByteOrder.LITTLE_ENDIAN);
    }
}
