package org.flserver.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile files (with HostileFilesTest): 10,000 randomly mutated fixture files (bit flips, truncations, splices
 * and targeted changes of ZIP, pickle and safetensors length fields). Each must be either read
 * consistently (every range inside the file, every view inside its storage, the same tables when
 * read again) or refused with {@link WeightFileException}; any other exception fails the test, and
 * so does a file that takes more than a second. The seed is fixed so failures reproduce; set
 * {@code -Dfl.fuzz.seed=N} to explore other mutations.
 */
class MutationFuzzTest {

    private static final int MUTATIONS = 10_000;
    private static final int[] INTERESTING = {0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
            0xFFFFFFFE, 64, 1000};

    @TempDir
    Path tmp;

    @Test
    void mutatedFilesAreReadConsistentlyOrRefused() throws Exception {
        long seed = Long.getLong("fl.fuzz.seed", 20240611L);
        Random rnd = new Random(seed);
        List<byte[]> corpus = new ArrayList<>();
        for (Path p : Fixtures.modelFiles("models", "fedavg")) {
            corpus.add(Files.readAllBytes(p));
        }
        Path file = tmp.resolve("mutant.pt");
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < MUTATIONS; i++) {
            byte[] original = corpus.get(rnd.nextInt(corpus.size()));
            StringBuilder how = new StringBuilder();
            byte[] mutant = mutate(original, corpus, rnd, how);
            Files.write(file, mutant);
            String context = "mutation " + i + " (seed " + seed + "): " + how;
            Boolean ok = assertTimeoutPreemptively(Duration.ofSeconds(1), () -> readOrRefuse(file, mutant, context),
                    context);
            if (ok) {
                accepted++;
            } else {
                refused++;
            }
        }
        // Both outcomes must really occur, or the mutations are not exercising the reader.
        assertTrue(accepted > 100 && refused > 1000, "accepted " + accepted + ", refused " + refused);
    }

    private static boolean readOrRefuse(Path file, byte[] bytes, String context) throws IOException {
        WeightFile f;
        try {
            f = WeightFiles.open(file);
        } catch (WeightFileException expected) {
            assertTrue(expected.getMessage() != null && !expected.getMessage().isBlank(), context);
            return false;
        } catch (RuntimeException | IOException e) {
            throw new AssertionError(context + ": " + e, e);
        }
        checkConsistent(f, bytes.length, context);
        WeightFile again = WeightFiles.open(file);
        assertEquals(f.fingerprint(), again.fingerprint(), context);
        assertEquals(f.storages(), again.storages(), context);
        return true;
    }

    private static void checkConsistent(WeightFile f, long size, String context) {
        List<StorageInfo> sorted = new ArrayList<>(f.storages());
        sorted.sort(Comparator.comparingLong(StorageInfo::offset));
        long end = 0;
        for (StorageInfo s : sorted) {
            assertEquals(s.numel() * s.dtype().size(), s.length(), context);
            assertTrue(s.offset() >= end || s.length() == 0, context + ": storages overlap");
            assertTrue(s.offset() + s.length() <= size, context + ": storage past the end of the file");
            end = Math.max(end, s.offset() + s.length());
            for (long crc : s.crc32Offsets()) {
                assertTrue(crc >= 0 && crc + 4 <= size, context + ": CRC field outside the file");
            }
        }
        for (TensorInfo t : f.tensors()) {
            StorageInfo s = f.storage(t.storageKey()).orElseThrow(() -> new AssertionError(context + ": no storage"));
            long last = t.storageOffset();
            long numel = 1;
            for (int d = 0; d < t.shape().size(); d++) {
                numel = Math.multiplyExact(numel, t.shape().get(d));
                if (t.shape().get(d) > 0) {
                    last = Math.addExact(last, Math.multiplyExact(t.shape().get(d) - 1, t.stride().get(d)));
                }
            }
            assertTrue(numel == 0 ? t.storageOffset() <= s.numel() : last < s.numel(),
                    context + ": view of " + t.name() + " outside its storage");
            assertEquals(s.dtype(), t.dtype(), context);
        }
    }

    private static byte[] mutate(byte[] in, List<byte[]> corpus, Random rnd, StringBuilder how) {
        byte[] b = in.clone();
        switch (rnd.nextInt(5)) {
            case 0 -> {
                int flips = 1 + rnd.nextInt(8);
                how.append(flips).append(" bit flips");
                for (int k = 0; k < flips; k++) {
                    int p = rnd.nextInt(b.length);
                    b[p] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> {
                int len = rnd.nextInt(b.length);
                how.append("truncated to ").append(len);
                b = java.util.Arrays.copyOf(b, len);
            }
            case 2 -> {
                byte[] other = corpus.get(rnd.nextInt(corpus.size()));
                int from = rnd.nextInt(other.length);
                int len = Math.min(other.length - from, 1 + rnd.nextInt(256));
                int at = rnd.nextInt(b.length);
                how.append("spliced ").append(len).append(" bytes at ").append(at);
                if (rnd.nextBoolean()) {
                    System.arraycopy(other, from, b, at, Math.min(len, b.length - at));
                } else {
                    byte[] r = new byte[b.length + len];
                    System.arraycopy(b, 0, r, 0, at);
                    System.arraycopy(other, from, r, at, len);
                    System.arraycopy(b, at, r, at + len, b.length - at);
                    b = r;
                }
            }
            case 3 -> zipField(b, rnd, how);
            default -> lengthField(b, rnd, how);
        }
        return b;
    }

    /** Changes a size, count, offset or name-length field of a ZIP header. */
    private static void zipField(byte[] b, Random rnd, StringBuilder how) {
        List<int[]> fields = new ArrayList<>(); // position, width
        for (int p = 0; p + 4 <= b.length; p++) {
            if (b[p] != 'P' || b[p + 1] != 'K') {
                continue;
            }
            int[] rel;
            int[] width;
            switch (b[p + 2] << 8 | b[p + 3]) {
                case 0x0102 -> { rel = new int[]{20, 24, 28, 30, 32, 42}; width = new int[]{4, 4, 2, 2, 2, 4}; }
                case 0x0304 -> { rel = new int[]{14, 18, 22, 26, 28}; width = new int[]{4, 4, 4, 2, 2}; }
                case 0x0506 -> { rel = new int[]{8, 10, 12, 16, 20}; width = new int[]{2, 2, 4, 4, 2}; }
                case 0x0606 -> { rel = new int[]{24, 32, 40, 48}; width = new int[]{8, 8, 8, 8}; }
                case 0x0607 -> { rel = new int[]{8}; width = new int[]{8}; }
                case 0x0708 -> { rel = new int[]{4, 8, 12}; width = new int[]{4, 4, 4}; }
                default -> { continue; }
            }
            for (int k = 0; k < rel.length; k++) {
                if (p + rel[k] + width[k] <= b.length) {
                    fields.add(new int[]{p + rel[k], width[k]});
                }
            }
        }
        if (fields.isEmpty()) {
            lengthField(b, rnd, how);
            return;
        }
        int[] f = fields.get(rnd.nextInt(fields.size()));
        setField(b, f[0], f[1], rnd, how.append("ZIP field at ").append(f[0]));
    }

    /** Changes a pickle string/memo length or the safetensors header length or a header number. */
    private static void lengthField(byte[] b, Random rnd, StringBuilder how) {
        if (b.length > 9 && b[8] == '{' && rnd.nextBoolean()) {
            if (rnd.nextBoolean()) {
                setField(b, 0, 8, rnd, how.append("safetensors header length"));
            } else {
                int p = rnd.nextInt(b.length);
                while (p < b.length && (b[p] < '0' || b[p] > '9')) {
                    p++;
                }
                if (p < b.length) {
                    b[p] = (byte) ('0' + rnd.nextInt(10));
                }
                how.append("safetensors digit at ").append(p);
            }
            return;
        }
        List<Integer> opcodes = new ArrayList<>();
        for (int p = 0; p + 5 <= b.length; p++) {
            int op = b[p] & 0xFF;
            if (op == 'X' || op == 'B' || op == 'r' || op == 'j' || op == 'J' || op == 0x8c || op == 'h' || op == 'q'
                    || op == 'K' || op == 'M' || op == 0x8a) {
                opcodes.add(p);
            }
        }
        if (opcodes.isEmpty()) {
            b[rnd.nextInt(b.length)] ^= 0x55;
            how.append("byte change");
            return;
        }
        int p = opcodes.get(rnd.nextInt(opcodes.size()));
        int op = b[p] & 0xFF;
        int width = op == 'X' || op == 'B' || op == 'r' || op == 'j' || op == 'J' ? 4 : op == 'M' ? 2 : 1;
        setField(b, p + 1, width, rnd, how.append("pickle operand of 0x").append(Integer.toHexString(op))
                .append(" at ").append(p));
    }

    private static void setField(byte[] b, int pos, int width, Random rnd, StringBuilder how) {
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long old = switch (width) {
            case 1 -> b[pos] & 0xFF;
            case 2 -> buf.getShort(pos) & 0xFFFF;
            case 4 -> buf.getInt(pos) & 0xFFFFFFFFL;
            default -> buf.getLong(pos);
        };
        long v = switch (rnd.nextInt(4)) {
            case 0 -> old + 1;
            case 1 -> old - 1;
            case 2 -> INTERESTING[rnd.nextInt(INTERESTING.length)] & 0xFFFFFFFFL;
            default -> rnd.nextLong();
        };
        how.append(": ").append(old).append(" -> ").append(v);
        switch (width) {
            case 1 -> b[pos] = (byte) v;
            case 2 -> buf.putShort(pos, (short) v);
            case 4 -> buf.putInt(pos, (int) v);
            default -> buf.putLong(pos, v);
        }
    }
}
