package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BoundedImages}: dimensions come from the header, and an image whose header is too large is
 * refused without being decoded — shown with headers that promise far more pixels than the file
 * holds, which a decoder could only fail on.
 */
class BoundedImagesTest {

    @ParameterizedTest
    @ValueSource(strings = {"png", "jpg", "bmp", "gif"})
    void dimensionsAreReadFromTheHeaderOfEveryFormat(String format) throws IOException {
        byte[] bytes = TestImages.encoded(37, 21, format);
        assertEquals(new BoundedImages.Dimensions(37, 21), BoundedImages.dimensions(bytes));
        BufferedImage decoded = assertDoesNotRefuse(bytes, ModelInputs.MAX_ELEMENTS);
        assertEquals(37, decoded.getWidth());
        assertEquals(21, decoded.getHeight());
    }

    @Test
    void aPngWhoseHeaderPromisesAHugeImageIsRefusedBeforeDecoding() throws IOException {
        byte[] bomb = TestImages.withPngSize(TestImages.encoded(8, 8, "png"), 30_000, 30_000);
        assertEquals(new BoundedImages.Dimensions(30_000, 30_000), BoundedImages.dimensions(bomb));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class,
                () -> BoundedImages.read(bomb, ModelInputs.MAX_ELEMENTS));
        assertEquals("The model input image is too large: 30000 × 30000 pixels, at most 4194304 pixels.",
                e.getMessage());
        // the same bytes through the model-input path, raw and as base64
        assertEquals(e.getMessage(), assertThrows(ModelInputs.BadInput.class,
                () -> ModelInputs.fromBytes(bomb)).getMessage());
        assertEquals(e.getMessage(), assertThrows(ModelInputs.BadInput.class, () -> ModelInputs.fromBytes(
                java.util.Base64.getEncoder().encode(bomb))).getMessage());
    }

    @Test
    void aJpegWhoseHeaderPromisesAHugeImageIsRefusedBeforeDecoding() throws IOException {
        byte[] bomb = TestImages.withJpegSize(TestImages.encoded(8, 8, "jpg"), 60_000, 50_000);
        assertEquals(new BoundedImages.Dimensions(60_000, 50_000), BoundedImages.dimensions(bomb));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class,
                () -> BoundedImages.read(bomb, ModelInputs.MAX_ELEMENTS));
        assertEquals("The model input image is too large: 60000 × 50000 pixels, at most 4194304 pixels.",
                e.getMessage());
    }

    @Test
    void theBoundIsPixelsTimesFourChannels() throws IOException {
        byte[] png = TestImages.encoded(10, 10, "png");
        assertDoesNotRefuse(png, 400);
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class, () -> BoundedImages.read(png, 399));
        assertEquals("The model input image is too large: 10 × 10 pixels, at most 99 pixels.", e.getMessage());
    }

    @Test
    void tiffImagesAreRefusedByFormat() throws IOException {
        byte[] tiff = TestImages.encoded(8, 8, "tiff");
        assertNull(BoundedImages.dimensions(tiff));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class,
                () -> BoundedImages.read(tiff, ModelInputs.MAX_ELEMENTS));
        assertEquals("The model input is an image of type image/tiff: only PNG, JPEG, GIF and BMP images are taken.", e.getMessage());
    }

    @Test
    void aTiffWithAThousandSamplesPerPixelIsRefusedBeforeDecoding() throws IOException {
        // 256 × 256 pixels pass the bound of pixels × 4; their 1000 samples each are 62.5 MiB
        byte[] tiff = TestImages.tiffWithBands(256, 256, 1000);
        assertTrue(tiff.length < 100_000, tiff.length + " bytes");
        assertEquals(1000, TestImages.rawBands(tiff), "the JDK's TIFF reader would decode every sample");
        String expected = "The model input is an image of type image/tiff: only PNG, JPEG, GIF and BMP images are taken.";
        assertEquals(expected, assertThrows(ModelInputs.BadInput.class,
                () -> BoundedImages.read(tiff, ModelInputs.MAX_ELEMENTS)).getMessage());
        assertEquals(expected, assertThrows(ModelInputs.BadInput.class,
                () -> ModelInputs.fromBytes(tiff)).getMessage());
        assertEquals(expected, assertThrows(ModelInputs.BadInput.class, () -> ModelInputs.fromBytes(
                java.util.Base64.getEncoder().encode(tiff))).getMessage());
    }

    @Test
    void bytesThatAreNoImageAreNull() throws IOException {
        assertNull(BoundedImages.dimensions("hello".getBytes()));
        assertNull(assertDoesNotRefuse("hello".getBytes(), ModelInputs.MAX_ELEMENTS));
        byte[] png = TestImages.encoded(8, 8, "png");
        assertNull(assertDoesNotRefuse(Arrays.copyOf(png, 20), ModelInputs.MAX_ELEMENTS));
    }

    private static BufferedImage assertDoesNotRefuse(byte[] bytes, long maxElements) {
        try {
            return BoundedImages.read(bytes, maxElements);
        } catch (ModelInputs.BadInput e) {
            throw new AssertionError("refused: " + e.getMessage(), e);
        }
    }
}
