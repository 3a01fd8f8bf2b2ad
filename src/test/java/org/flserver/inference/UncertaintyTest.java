package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.List;
import org.flserver.tensor.DType;
import org.junit.jupiter.api.Test;

class UncertaintyTest {

    private static final long[] TWO_BY_TWO = {2, 2};

    @Test
    void argmaxTakesTheLargestClassPerSample() {
        Uncertainty.Result r = Uncertainty.argmax(Tensor.ofFloats(new long[]{3, 3},
                new float[]{0.1f, 0.7f, 0.2f, 5, -1, 2, -3, -2, -1}));
        assertEquals(DType.INT64, r.inference().dtype());
        assertArrayEquals(new long[]{3}, r.inference().shape());
        assertArrayEquals(new double[]{1, 0, 2}, r.inference().toDoubles());
        assertEquals(0, r.uncertainty().size());
    }

    @Test
    void meanVarianceAndStdArePerElementOverTheOutputs() {
        Uncertainty.Result r = Uncertainty.of(List.of(
                Tensor.ofFloats(TWO_BY_TWO, new float[]{1, 2, 3, 4}),
                Tensor.ofFloats(TWO_BY_TWO, new float[]{3, 2, 5, 0})));
        assertArrayEquals(new double[]{2, 2, 4, 2}, r.inference().toDoubles());
        assertArrayEquals(new double[]{1, 0, 1, 4}, r.uncertainty().get("variance").toDoubles(), 1e-7);
        assertArrayEquals(new double[]{1, 0, 1, 2}, r.uncertainty().get("std").toDoubles(), 1e-7);
        assertFalse(r.uncertainty().containsKey("predictive_entropy"), "values outside [0, 1] are no probabilities");
    }

    @Test
    void probabilitiesGetEntropiesAndMutualInformation() {
        // two passes that disagree completely on sample 0, agree on sample 1
        Uncertainty.Result r = Uncertainty.of(List.of(
                Tensor.ofFloats(TWO_BY_TWO, new float[]{1, 0, 0.5f, 0.5f}),
                Tensor.ofFloats(TWO_BY_TWO, new float[]{0, 1, 0.5f, 0.5f})));
        double ln2 = Math.log(2);
        assertArrayEquals(new double[]{ln2, ln2}, r.uncertainty().get("predictive_entropy").toDoubles(), 1e-6);
        assertArrayEquals(new double[]{0, ln2}, r.uncertainty().get("expected_entropy").toDoubles(), 1e-6);
        assertArrayEquals(new double[]{ln2, 0}, r.uncertainty().get("mutual_info").toDoubles(), 1e-6);
        assertArrayEquals(new long[]{2}, r.uncertainty().get("mutual_info").shape());
    }

    @Test
    void softmaxIsStableAndSumsToOne() {
        Tensor p = Uncertainty.softmax(Tensor.ofFloats(new long[]{1, 3}, new float[]{1000, 1000, 999}));
        double[] v = p.toDoubles();
        assertEquals(1.0, v[0] + v[1] + v[2], 1e-6);
        assertEquals(v[0], v[1], 1e-7);
        assertEquals(Math.exp(-1) / (2 + Math.exp(-1)), v[2], 1e-6);
    }

    @Test
    void argmaxOverNoClassesIsRefusedAsTorchRefusesIt() {
        Tensor empty = new Tensor(DType.FLOAT32, new long[]{1, 0}, ByteBuffer.allocate(0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Uncertainty.argmax(empty));
        assertEquals("argmax over dimension 1 needs at least one class, got an output of shape [1, 0]", e.getMessage());
    }

    @Test
    void emptyOutputsHaveEmptyStatisticsAndZeroEntropy() {
        Tensor empty = new Tensor(DType.FLOAT32, new long[]{3, 0}, ByteBuffer.allocate(0));
        Uncertainty.Result r = Uncertainty.of(List.of(empty, empty));
        assertArrayEquals(new long[]{3, 0}, r.inference().shape());
        assertArrayEquals(new long[]{3, 0}, r.uncertainty().get("std").shape());
        // the entropy of no classes is an empty sum: 0 for each of the three samples
        assertArrayEquals(new double[]{0, 0, 0}, r.uncertainty().get("predictive_entropy").toDoubles());
        assertArrayEquals(new long[]{3, 0}, Uncertainty.softmax(empty).shape());
        Tensor noSamples = new Tensor(DType.FLOAT32, new long[]{0, 4}, ByteBuffer.allocate(0));
        assertArrayEquals(new long[]{0}, Uncertainty.argmax(noSamples).inference().shape());
        assertArrayEquals(new long[]{0}, Uncertainty.of(List.of(noSamples)).uncertainty().get("mutual_info").shape());
    }

    @Test
    void sizesBeyondAnIntAreAnErrorNotAWrappedSize() {
        Tensor wide = new Tensor(DType.FLOAT32, new long[]{1, 1, 0, 3_000_000_000L}, ByteBuffer.allocate(0));
        assertThrows(ArithmeticException.class, () -> Uncertainty.argmax(wide));
        assertThrows(ArithmeticException.class, () -> Uncertainty.of(List.of(wide)));
    }
}
