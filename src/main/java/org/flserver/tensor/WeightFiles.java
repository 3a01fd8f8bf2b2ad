package org.flserver.tensor;

import org.flserver.tensor.pytorch.PicklePolicy;
import org.flserver.tensor.pytorch.PyTorchArchiveReader;
import org.flserver.tensor.safetensors.SafetensorsReader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The entry point for reading weight files: recognises the format from the first bytes (never from
 * the file name, which a client chooses) and hands the file to the matching validating reader.
 *
 * <ul>
 *   <li>{@code PK\x03\x04}: a torch.save or torch.jit.save ZIP archive;</li>
 *   <li>{@code 80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19}: torch's legacy non-zip format, refused
 *       (it needs a second parser and cannot be rewritten in place; clients can simply re-save);</li>
 *   <li>an 8-byte little-endian length followed by {@code {}: safetensors.</li>
 * </ul>
 */
public final class WeightFiles {

    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc,
            (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};

    private WeightFiles() {
    }

    /** Opens a file with the {@linkplain PicklePolicy#standard() standard} pickle allow-list. */
    public static WeightFile open(Path path) throws IOException {
        return open(path, PicklePolicy.standard());
    }

    /**
     * Reads and validates {@code path}.
     *
     * @throws WeightFileException when the file is refused (malformed, hostile, unsupported)
     * @throws IOException         when it cannot be read at all
     */
    public static WeightFile open(Path path, PicklePolicy policy) throws IOException {
        byte[] head = new byte[16];
        int n;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(head);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read up to 16 bytes
            }
            n = b.position();
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return PyTorchArchiveReader.read(path, policy);
        }
        if (n >= LEGACY_MAGIC.length && java.util.Arrays.equals(head, 0, LEGACY_MAGIC.length, LEGACY_MAGIC, 0,
                LEGACY_MAGIC.length)) {
            throw new WeightFileException("legacy (non-zip) torch.save format is not supported: "
                    + "re-save with torch >= 1.6 defaults (without _use_new_zipfile_serialization=False)");
        }
        if (n >= 9 && head[8] == '{') {
            return SafetensorsReader.read(path);
        }
        if (n >= 8 && new String(head, 0, 8, java.nio.charset.StandardCharsets.ISO_8859_1).equals("PYTORCH1")) {
            throw new WeightFileException("pre-1.0 PYTORCH1 archives are not supported");
        }
        throw new WeightFileException("not a PyTorch archive or safetensors file");
    }
}
