package org.flserver.inference;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;

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
