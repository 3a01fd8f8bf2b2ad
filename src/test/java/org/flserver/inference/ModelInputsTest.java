package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.flserver.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * {@link ModelInputs} on tensor files that are small on disk and large in memory (one stored
 * element expanded with stride 0, written by {@code torch.save} from
 * {@code src/test/python/inference/make_input_bombs.py}): bounded by bytes as well as elements, and
 * refused by dtype before anything is copied.
 */
class ModelInputsTest {

    private static final Path FIXTURES = Path.of("src", "test", "resources", "inference");

    @Test
    void aComplexInputIsRefusedByItsDtype() throws IOException {
        byte[] file = Files.readAllBytes(FIXTURES.resolve("input_expand_complex128.pt"));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class, () -> ModelInputs.fromBytes(file));
        assertEquals("A model input file must hold a tensor of dtype float32, float64, float16, int64, int32, int8,"
                + " uint8 or bool, not complex128.", e.getMessage());
    }

    @Test
    void anInputOfTooManyBytesIsRefusedThoughItsElementsWouldPass() throws IOException {
        byte[] file = Files.readAllBytes(FIXTURES.resolve("input_expand_float64.pt"));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class, () -> ModelInputs.fromBytes(file));
        assertEquals("The model input is too large: at most 67108864 bytes of numbers (16777216 of float64 take"
                + " 134217728).", e.getMessage());
    }

    @Test
    void anInputAtTheByteBoundIsTaken() throws Exception {
        byte[] file = Files.readAllBytes(FIXTURES.resolve("input_expand_float64_half.pt"));
        Tensor t = ModelInputs.fromBytes(file);
        assertEquals(DType.FLOAT64, t.dtype());
        assertArrayEquals(new long[]{1 << 23}, t.shape());
        assertEquals(ModelInputs.MAX_BYTES, t.data().remaining());
        assertEquals(0.5, t.data().getDouble(8 * ((1 << 23) - 1)));
    }
}
