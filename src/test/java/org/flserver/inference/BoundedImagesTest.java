package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
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
    @ValueSource(strings = {"png", "jpg", "bmp", "gif", "tiff"})
    void dimensionsAreReadFromTheHeaderOfEveryFormat(String format) throws IOException {
        byte[] bytes = encode(image(37, 21), format);
        assertEquals(new BoundedImages.Dimensions(37, 21), BoundedImages.dimensions(bytes));
        BufferedImage decoded = assertDoesNotRefuse(bytes, ModelInputs.MAX_ELEMENTS);
        assertEquals(37, decoded.getWidth());
        assertEquals(21, decoded.getHeight());
    }

    @Test
    void aPngWhoseHeaderPromisesAHugeImageIsRefusedBeforeDecoding() throws IOException {
        byte[] bomb = withPngSize(encode(image(8, 8), "png"), 30_000, 30_000);
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
        byte[] bomb = withJpegSize(encode(image(8, 8), "jpg"), 60_000, 50_000);
        assertEquals(new BoundedImages.Dimensions(60_000, 50_000), BoundedImages.dimensions(bomb));
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class,
                () -> BoundedImages.read(bomb, ModelInputs.MAX_ELEMENTS));
        assertEquals("The model input image is too large: 60000 × 50000 pixels, at most 4194304 pixels.",
                e.getMessage());
    }

    @Test
    void theBoundIsPixelsTimesFourChannels() throws IOException {
        byte[] png = encode(image(10, 10), "png");
        assertDoesNotRefuse(png, 400);
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class, () -> BoundedImages.read(png, 399));
        assertEquals("The model input image is too large: 10 × 10 pixels, at most 99 pixels.", e.getMessage());
    }

    @Test
    void bytesThatAreNoImageAreNull() throws IOException {
        assertNull(BoundedImages.dimensions("hello".getBytes()));
        assertNull(assertDoesNotRefuse("hello".getBytes(), ModelInputs.MAX_ELEMENTS));
        byte[] png = encode(image(8, 8), "png");
        assertNull(assertDoesNotRefuse(Arrays.copyOf(png, 20), ModelInputs.MAX_ELEMENTS));
    }

    private static BufferedImage assertDoesNotRefuse(byte[] bytes, long maxElements) {
        try {
            return BoundedImages.read(bytes, maxElements);
        } catch (ModelInputs.BadInput e) {
            throw new AssertionError("refused: " + e.getMessage(), e);
        }
    }

    private static BufferedImage image(int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, (x * 7) << 16 | (y * 11) << 8 | (x + y));
            }
        }
        return image;
    }

    private static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertNotNull(ImageIO.getImageWritersByFormatName(format).next(), format);
        if (!ImageIO.write(image, format, out)) {
            throw new AssertionError("no writer for " + format);
        }
        return out.toByteArray();
    }

    /** The PNG with its IHDR width and height replaced (and the chunk's CRC recomputed). */
    private static byte[] withPngSize(byte[] png, int width, int height) {
        byte[] out = png.clone();
        // signature (8), IHDR length (4), "IHDR" (4), then width and height
        ByteBuffer.wrap(out, 16, 8).putInt(width).putInt(height);
        CRC32 crc = new CRC32();
        crc.update(out, 12, 4 + 13);
        ByteBuffer.wrap(out, 12 + 4 + 13, 4).putInt((int) crc.getValue());
        return out;
    }

    /** The JPEG with the height and width of its start-of-frame segment replaced. */
    private static byte[] withJpegSize(byte[] jpeg, int width, int height) {
        byte[] out = jpeg.clone();
        for (int i = 2; i + 9 < out.length; ) {
            int marker = out[i + 1] & 0xff;
            int length = (out[i + 2] & 0xff) << 8 | out[i + 3] & 0xff;
            if (marker >= 0xC0 && marker <= 0xC3) {
                ByteBuffer.wrap(out, i + 5, 4).putShort((short) height).putShort((short) width);
                return out;
            }
            i += 2 + length;
        }
        throw new AssertionError("no start-of-frame segment");
    }
}
