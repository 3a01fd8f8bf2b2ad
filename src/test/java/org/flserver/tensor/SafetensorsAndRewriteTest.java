package org.flserver.tensor;

import org.flserver.tensor.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The safetensors writer reproduces the fixtures byte for byte; bad headers are refused; CRC combining. */
class SafetensorsAndRewriteTest {

    @TempDir
    Path tmp;

    @Test
    void writerReproducesEveryFixtureByteForByte() throws IOException {
        for (Path p : Fixtures.modelFiles("models")) {
            if (!p.toString().endsWith(".safetensors")) {
                continue;
            }
            WeightFile f = WeightFiles.open(p);
            byte[] bytes = Files.readAllBytes(p);
            List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
            for (TensorInfo t : f.tensors()) {
                StorageInfo s = f.storage(t.storageKey()).orElseThrow();
                tensors.add(new SafetensorsWriter.Tensor(t.name(), t.dtype(), t.shape(),
                        ByteBuffer.wrap(bytes, (int) s.offset(), (int) s.length())));
            }
            Path out = tmp.resolve(p.getFileName());
            SafetensorsWriter.write(out, f.metadata(), tensors);
            assertArrayEquals(bytes, Files.readAllBytes(out), p.getFileName().toString());
        }
    }

    @Test
    void malformedHeadersAreRefused() throws IOException {
        String ok = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        assertRefused("{" + ok + "}", 8, null);
        assertRefused("{" + ok + "}", 4, "do not fit");                 // data shorter than declared
        assertRefused("{" + ok + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps");
        assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
        assertRefused("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported");
        assertRefused("{" + ok + "," + ok + "}", 8, "duplicate");
        assertRefused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8,
                "overflows");
        assertRefused("{" + ok + ",\"__metadata__\":{\"x\":1}}", 8, "not a string");
        assertRefused("{" + ok + "} x", 8, "malformed JSON");
    }

    /**
     * Digits of other scripts (here ARABIC-INDIC DIGIT THREE, U+0663, and DEVANAGARI DIGIT ONE) are
     * not JSON digits: they were taken by Character.isDigit and then made Double.parseDouble throw a
     * NumberFormatException, which the upload answered with a 500.
     */
    @Test
    void nonAsciiDigitsAreARefusalNotACrash() throws IOException {
        String ok = "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
        assertRefused("{" + ok + ",\"b\":1.\u0663}", 1, "malformed JSON header");      // fraction
        assertRefused("{" + ok + ",\"b\":1e\u0663}", 1, "malformed JSON header");      // exponent
        assertRefused("{" + ok + ",\"b\":\u0663}", 1, "malformed JSON header");        // integer
        assertRefused("{\"a\":{\"dtype\":\"U8\",\"shape\":[1\u0967],\"data_offsets\":[0,1]}}", 1,
                "malformed JSON header");
    }

    private void assertRefused(String header, int dataBytes, String why) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = tmp.resolve("t.safetensors");
        Files.write(p, b.array());
        if (why == null) {
            assertEquals(1, WeightFiles.open(p).tensors().size());
            return;
        }
        WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFiles.open(p), header);
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void combinedCrcEqualsTheCrcOfTheConcatenation() {
        Random r = new Random(3);
        for (int i = 0; i < 200; i++) {
            byte[] a = new byte[r.nextInt(3000)];
            byte[] b = new byte[r.nextInt(3000)];
            r.nextBytes(a);
            r.nextBytes(b);
            CRC32 whole = new CRC32();
            whole.update(a);
            whole.update(b);
            CRC32 ca = new CRC32();
            ca.update(a);
            CRC32 cb = new CRC32();
            cb.update(b);
            assertEquals((int) whole.getValue(),
                    TemplateRewrite.combineCrc32((int) ca.getValue(), (int) cb.getValue(), b.length));
        }
    }
}
