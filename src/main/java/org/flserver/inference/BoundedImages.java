package org.flserver.inference;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes an image sent as model input only after its header has shown that it fits. An image's
 * file size says nothing about its pixels: a 30000 × 30000 PNG of one colour is under 1 MB and
 * decodes to 900 MB in seconds. ImageIO's readers (PNG, JPEG, GIF, BMP, WBMP, TIFF) read width and
 * height from the header without decoding, so the bound is checked first and the same reader then
 * decodes what passed.
 */
final class BoundedImages {

    /** Width and height as the image's header states them. */
    record Dimensions(int width, int height) {
    }

    /** The most channels an image input gets (RGBA); the bound assumes them, as nothing is decoded yet. */
    static final int MAX_CHANNELS = 4;

    private BoundedImages() {
    }

    /** The header's dimensions of the first image, or null when no reader takes the bytes. */
    static Dimensions dimensions(byte[] bytes) {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = reader(in);
            if (reader == null) {
                return null;
            }
            try {
                return new Dimensions(reader.getWidth(0), reader.getHeight(0));
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException notAnImage) {
            return null;
        }
    }

    /**
     * The decoded image, or null when the bytes are no image ImageIO reads. An image whose header
     * states more than {@code maxElements} numbers (pixels × {@link #MAX_CHANNELS}) is refused
     * before a pixel is decoded.
     */
    static BufferedImage read(byte[] bytes, long maxElements) throws ModelInputs.BadInput {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = reader(in);
            if (reader == null) {
                return null;
            }
            try {
                long width = reader.getWidth(0);
                long height = reader.getHeight(0);
                if (width * height * MAX_CHANNELS > maxElements) {
                    throw new ModelInputs.BadInput("The model input image is too large: " + width + " × " + height
                            + " pixels, at most " + maxElements / MAX_CHANNELS + " pixels.");
                }
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException notAnImage) {
            return null;
        }
    }

    private static ImageReader reader(ImageInputStream in) {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            return null;
        }
        ImageReader reader = readers.next();
        // seek forward only and ignore metadata: nothing but the first image is read
        reader.setInput(in, true, true);
        return reader;
    }
}
