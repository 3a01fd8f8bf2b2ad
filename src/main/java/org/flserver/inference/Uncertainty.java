package org.flserver.inference;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The statistics of several outputs of one request (MC-dropout passes, ensemble members, SWAG
 * samples; api.md §10): their mean — the inference — and, element by element, the variance
 * (population: divided by the number of outputs) and the standard deviation. When every value lies
 * in [0, 1] (the outputs are probabilities), also, per sample over dimension 1 (the classes), with
 * natural logarithms and {@code 0 · log 0 = 0}:
 * <ul>
 *   <li>{@code predictive_entropy} = H[p̄] = −Σ_c p̄_c log p̄_c (p̄ the mean output),</li>
 *   <li>{@code expected_entropy} = (1/K) Σ_k H[p_k],</li>
 *   <li>{@code mutual_info} = predictive − expected.</li>
 * </ul>
 * Pure Java on {@link Tensor}s: the numbers never depend on the runtime.
 */
public final class Uncertainty {

    private Uncertainty() {
    }

    /** What a request answers: the inference and named uncertainty tensors (insertion-ordered). */
    public record Result(Tensor inference, Map<String, Tensor> uncertainty) {
    }

    /** NONE: the class index of the largest output per sample ({@code argmax(output, dim=1)}). */
    public static Result argmax(Tensor output) {
        long[] shape = output.shape();
        if (shape.length < 2) {
            throw new IllegalArgumentException("argmax over dimension 1 needs an output of at least two"
                    + " dimensions, got " + Arrays.toString(shape));
        }
        int classes = size(shape, 1, 2);
        if (classes == 0) {
            // as torch.argmax does: there is no largest of no classes
            throw new IllegalArgumentException("argmax over dimension 1 needs at least one class, got an output of"
                    + " shape " + Arrays.toString(shape));
        }
        int inner = size(shape, 2, shape.length);
        int outer = size(shape, 0, 1);
        double[] v = output.toDoubles();
        long[] result = new long[Math.multiplyExact(outer, inner)];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                int best = 0;
                double bestValue = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < classes; c++) {
                    double x = v[(o * classes + c) * inner + i];
                    if (x > bestValue || Double.isNaN(x) && !Double.isNaN(bestValue)) {
                        best = c;
                        bestValue = x;
                    }
                }
                result[o * inner + i] = best;
            }
        }
        long[] resultShape = new long[shape.length - 1];
        resultShape[0] = shape[0];
        System.arraycopy(shape, 2, resultShape, 1, shape.length - 2);
        return new Result(Tensor.ofLongs(resultShape, result), Map.of());
    }

    /** Softmax over dimension 1, per sample (the optional step of MC dropout). */
    public static Tensor softmax(Tensor output) {
        long[] shape = output.shape();
        if (shape.length < 2) {
            throw new IllegalArgumentException("softmax over dimension 1 needs at least two dimensions");
        }
        int outer = size(shape, 0, 1);
        int classes = size(shape, 1, 2);
        int inner = size(shape, 2, shape.length);
        double[] v = output.toDoubles();
        float[] r = new float[v.length];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < classes; c++) {
                    max = Math.max(max, v[(o * classes + c) * inner + i]);
                }
                double sum = 0;
                for (int c = 0; c < classes; c++) {
                    sum += Math.exp(v[(o * classes + c) * inner + i] - max);
                }
                for (int c = 0; c < classes; c++) {
                    int k = (o * classes + c) * inner + i;
                    r[k] = (float) (Math.exp(v[k] - max) / sum);
                }
            }
        }
        return Tensor.ofFloats(shape, r);
    }

    /** Mean, variance, std (and entropies for probabilities) of outputs of one shape. */
    public static Result of(List<Tensor> outputs) {
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException("no outputs");
        }
        long[] shape = outputs.get(0).shape();
        int n = Math.toIntExact(outputs.get(0).numel());
        int k = outputs.size();
        double[][] values = new double[k][];
        for (int j = 0; j < k; j++) {
            if (!Arrays.equals(outputs.get(j).shape(), shape)) {
                throw new IllegalArgumentException("outputs differ in shape");
            }
            values[j] = outputs.get(j).toDoubles();
        }
        double[] mean = new double[n];
        boolean probabilities = true;
        for (double[] v : values) {
            for (int i = 0; i < n; i++) {
                mean[i] += v[i];
                probabilities &= v[i] >= 0 && v[i] <= 1;
            }
        }
        for (int i = 0; i < n; i++) {
            mean[i] /= k;
        }
        float[] variance = new float[n];
        float[] std = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (double[] v : values) {
                double d = v[i] - mean[i];
                s += d * d;
            }
            variance[i] = (float) (s / k);
            std[i] = (float) Math.sqrt(s / k);
        }
        Map<String, Tensor> uncertainty = new LinkedHashMap<>();
        uncertainty.put("variance", Tensor.ofFloats(shape, variance));
        uncertainty.put("std", Tensor.ofFloats(shape, std));
        if (probabilities && shape.length >= 2) {
            // the dimensions, not n: with a dimension of 0 there are no values, yet samples with no classes
            int outer = size(shape, 0, 1);
            int classes = size(shape, 1, 2);
            int inner = size(shape, 2, shape.length);
            int samples = Math.multiplyExact(outer, inner);
            float[] predictive = new float[samples];
            float[] expected = new float[samples];
            float[] mutual = new float[samples];
            long[] entropyShape = new long[shape.length - 1];
            entropyShape[0] = shape[0];
            System.arraycopy(shape, 2, entropyShape, 1, shape.length - 2);
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    double hMean = 0;
                    double hExpected = 0;
                    for (int c = 0; c < classes; c++) {
                        int idx = (o * classes + c) * inner + i;
                        hMean -= plogp(mean[idx]);
                        for (double[] v : values) {
                            hExpected -= plogp(v[idx]) / k;
                        }
                    }
                    predictive[o * inner + i] = (float) hMean;
                    expected[o * inner + i] = (float) hExpected;
                    mutual[o * inner + i] = (float) (hMean - hExpected);
                }
            }
            uncertainty.put("predictive_entropy", Tensor.ofFloats(entropyShape, predictive));
            uncertainty.put("expected_entropy", Tensor.ofFloats(entropyShape, expected));
            uncertainty.put("mutual_info", Tensor.ofFloats(entropyShape, mutual));
        }
        float[] meanFloats = new float[n];
        for (int i = 0; i < n; i++) {
            meanFloats[i] = (float) mean[i];
        }
        return new Result(Tensor.ofFloats(shape, meanFloats), uncertainty);
    }

    /**
     * The product of {@code shape[from..to)} as an int; an output too large to index is an
     * {@link ArithmeticException}, never a wrapped-around size (the protocol reader bounds outputs
     * before they get here; this is the second line).
     */
    private static int size(long[] shape, int from, int to) {
        int product = 1;
        for (int d = from; d < to; d++) {
            product = Math.multiplyExact(product, Math.toIntExact(shape[d]));
        }
        return product;
    }

    private static double plogp(double p) {
        return p > 0 ? p * Math.log(p) : 0.0;
    }
}
