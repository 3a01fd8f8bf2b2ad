package org.flserver.inference;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Images for the tests, encoded by ImageIO, and "image bombs": the same files with a header that
 * promises far more pixels than they hold. A reader that trusted such a header would allocate for
 * it; one that decoded the pixels would fail on the missing data — only a check of the header
 * before decoding refuses it as too large.
 */
public final class TestImages {

    private TestImages() {
    }

    /** An RGB image with a gradient, encoded in the format ("png", "jpg", "bmp", "gif", "tiff"). */
    public static byte[] encoded(int width, int height, String format) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, (x * 7) << 16 | (y * 11) << 8 | (x + y));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(image, format, out)) {
            throw new AssertionError("no ImageIO writer for " + format);
        }
        return out.toByteArray();
    }

    /**
     * A little-endian TIFF of zeros, one Deflate strip, with {@code bands} 8-bit samples per pixel:
     * TIFF allows any number and the JDK's TIFF reader decodes them all, so a file of a few hundred
     * KB can hold hundreds of MB of samples. Written field by field (ImageIO's TIFF writer takes no
     * raster of that many bands); the zeros are deflated a chunk at a time.
     */
    public static byte[] tiffWithBands(int width, int height, int bands) {
        ByteArrayOutputStream strip = new ByteArrayOutputStream();
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION);
        byte[] zeros = new byte[1 << 20];
        byte[] buffer = new byte[1 << 16];
        for (long left = (long) width * height * bands; left > 0; left -= zeros.length) {
            deflater.setInput(zeros, 0, (int) Math.min(left, zeros.length));
            while (!deflater.needsInput()) {
                strip.write(buffer, 0, deflater.deflate(buffer));
            }
        }
        deflater.finish();
        while (!deflater.finished()) {
            strip.write(buffer, 0, deflater.deflate(buffer));
        }
        deflater.end();
        int entries = 10;
        int bitsAt = 8 + 2 + 12 * entries + 4;
        int dataAt = bitsAt + 2 * bands;
        ByteBuffer b = ByteBuffer.allocate(dataAt + strip.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'I').put((byte) 'I').putShort((short) 42).putInt(8);
        b.putShort((short) entries);
        tiffEntry(b, 256, 4, 1, width);            // ImageWidth
        tiffEntry(b, 257, 4, 1, height);           // ImageLength
        tiffEntry(b, 258, 3, bands, bitsAt);       // BitsPerSample, one per band
        tiffEntry(b, 259, 3, 1, 8);                // Compression: Deflate
        tiffEntry(b, 262, 3, 1, 1);                // PhotometricInterpretation: BlackIsZero
        tiffEntry(b, 273, 4, 1, dataAt);           // StripOffsets
        tiffEntry(b, 277, 3, 1, bands);            // SamplesPerPixel
        tiffEntry(b, 278, 4, 1, height);           // RowsPerStrip
        tiffEntry(b, 279, 4, 1, strip.size());     // StripByteCounts
        tiffEntry(b, 284, 3, 1, 1);                // PlanarConfiguration: chunky
        b.putInt(0);                               // no further image
        for (int i = 0; i < bands; i++) {
            b.putShort((short) 8);
        }
        b.put(strip.toByteArray());
        return b.array();
    }

    private static void tiffEntry(ByteBuffer b, int tag, int type, int count, int value) {
        b.putShort((short) tag).putShort((short) type).putInt(count);
        if (type == 3 && count == 1) {
            b.putShort((short) value).putShort((short) 0); // a SHORT value sits left-justified
        } else {
            b.putInt(value);
        }
    }

    /** The number of bands ImageIO's first reader of these bytes would decode, from the header alone. */
    public static int rawBands(byte[] image) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(image))) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            try {
                reader.setInput(in, true, true);
                return reader.getRawImageType(0).getSampleModel().getNumBands();
            } finally {
                reader.dispose();
            }
        }
    }

    /** The PNG with its IHDR width and height replaced (and the chunk's CRC recomputed). */
    public static byte[] withPngSize(byte[] png, int width, int height) {
        byte[] out = png.clone();
        // signature (8), IHDR length (4), "IHDR" (4), then width and height
        ByteBuffer.wrap(out, 16, 8).putInt(width).putInt(height);
        CRC32 crc = new CRC32();
        crc.update(out, 12, 4 + 13);
        ByteBuffer.wrap(out, 12 + 4 + 13, 4).putInt((int) crc.getValue());
        return out;
    }

    /** The JPEG with the height and width of its start-of-frame segment replaced. */
    public static byte[] withJpegSize(byte[] jpeg, int width, int height) {
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
