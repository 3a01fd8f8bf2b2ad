package org.flserver.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torch.save(tensor)} files (one bare tensor) are read as {@link FormatKind#TENSOR}: SWAG
 * moment vectors come this way. A pickle whose top level is something else (a string, a list) is
 * still refused.
 */
class BareTensorTest {

    @TempDir
    Path dir;

    @Test
    void bareTensorIsReadAsKindTensor() throws Exception {
        Path file = dir.resolve("moment.pt");
        Files.write(file, TorchTestFiles.bareFloatTensor(new float[]{1f, 2f, 3f, 4f, 5f}));
        WeightFile f = WeightFiles.open(file);
        assertEquals(FormatKind.TENSOR, f.kind());
        assertEquals(1, f.tensors().size());
        TensorInfo t = f.tensors().get(0);
        assertEquals(List.of(5L), t.shape());
        assertEquals(DType.FLOAT32, t.dtype());
        assertEquals(1, f.storages().size());
        assertEquals(20, f.storages().get(0).length());
    }

    @Test
    void bareTensorWithAViewOutsideItsStorageIsRefused() throws Exception {
        Path file = dir.resolve("lie.pt");
        Files.write(file, TorchTestFiles.bareTensor("FloatStorage", 2, new long[]{3}, new byte[8]));
        WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFiles.open(file));
        assertTrue(e.getMessage().contains("exceeds its storage"), e.getMessage());
    }
}
