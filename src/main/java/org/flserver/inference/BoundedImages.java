package org.flserver.inference;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes an image sent as model input only after its header has shown that it fits. An image's
 * file size says nothing about its pixels: a 30000 × 30000 PNG of one colour is under 1 MB and
 * decodes to 900 MB in seconds. ImageIO's readers read width and height from the header without
 * decoding, so the bound is checked first and the same reader then decodes what passed.
 *
 * <p>Only the PNG, JPEG, GIF and BMP readers are used (api.md §10): the bound counts at most
 * {@link #MAX_CHANNELS} numbers per pixel, which holds for them, but the JDK's TIFF reader decodes
 * any number of samples per pixel — a 257 KB Deflate TIFF of 512 × 512 pixels with 1000 samples
 * each decodes to 250 MiB. Other formats ImageIO knows (TIFF, WBMP, any a library adds) are refused
 * by name before their reader sees more than the header.
 */
final class BoundedImages {

    /** Width and height as the image's header states them. */
    record Dimensions(int width, int height) {
    }

    /** The most channels an image input gets (RGBA); the bound assumes them, as nothing is decoded yet. */
    static final int MAX_CHANNELS = 4;

    /** ImageIO's format names of the readers used (whose images have at most {@link #MAX_CHANNELS} channels). */
    private static final Set<String> FORMATS = Set.of("png", "jpeg", "gif", "bmp");

    private BoundedImages() {
    }

    /** The header's dimensions of the first image, or null when no admitted reader takes the bytes. */
    static Dimensions dimensions(byte[] bytes) {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = reader(in);
            if (reader == null || !admitted(reader)) {
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
     * The decoded image, or null when the bytes are no image ImageIO reads. An image of a format
     * other than PNG, JPEG, GIF and BMP is refused, and so is one whose header states more than
     * {@code maxElements} numbers (pixels × {@link #MAX_CHANNELS}), both before a pixel is decoded.
     */
    static BufferedImage read(byte[] bytes, long maxElements) throws ModelInputs.BadInput {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = reader(in);
            if (reader == null) {
                return null;
            }
            try {
                if (!admitted(reader)) {
                    throw new ModelInputs.BadInput("The model input is an image of type " + mimeType(reader)
                            + ": only PNG, JPEG, GIF and BMP images are taken.");
                }
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

    private static boolean admitted(ImageReader reader) {
        return FORMATS.contains(formatName(reader).toLowerCase(Locale.ROOT));
    }

    private static String formatName(ImageReader reader) {
        try {
            return reader.getFormatName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String mimeType(ImageReader reader) {
        String[] types = reader.getOriginatingProvider() == null ? null
                : reader.getOriginatingProvider().getMIMETypes();
        return types == null || types.length == 0 ? formatName(reader) : types[0];
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
