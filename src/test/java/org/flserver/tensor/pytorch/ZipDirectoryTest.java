package org.flserver.tensor.pytorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where {@link ZipDirectory} finds the records, and what it costs: every committed archive reads;
 * files on which ZIP readers could disagree (a comment or bytes after the end record, bytes between
 * the central directory and the end records or between local records) are refused; the central
 * directory and DEFLATE input are bounded before they are read. The two files that made libtorch run
 * other code than the old check read are committed fixtures (src/test/resources/hostile, written by
 * src/test/python/hostile/make_hostile.py; TorchScriptArchiveCheckTest); the archives here are built
 * byte by byte, the large ones as sparse files.
 */
class ZipDirectoryTest {

    private static final Path RESOURCES = Path.of("src", "test", "resources");

    @TempDir
    Path tmp;

    @Test
    void everyCommittedArchiveReads() throws IOException {
        List<Path> archives = new ArrayList<>();
        try (Stream<Path> files = Files.walk(RESOURCES)) {
            for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                byte[] head = new byte[4];
                try (var in = Files.newInputStream(p)) {
                    if (in.read(head) == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
                        archives.add(p);
                    }
                }
            }
        }
        assertTrue(archives.size() > 200, archives.size() + " archives");
        // a cut archive, and the two that show libtorch other records than java.util.zip
        Set<String> refusedOnes = Set.of("pytorch/hostile/truncated.pt", "hostile/split_directory.pt",
                "hostile/fake_end_record.pt");
        int refused = 0;
        for (Path p : archives) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                if (refusedOnes.contains(RESOURCES.relativize(p).toString().replace('\\', '/'))) {
                    assertThrows(WeightFileException.class, () -> ZipDirectory.readStructure(ch), p.toString());
                    refused++;
                } else {
                    ZipDirectory zip = ZipDirectory.readStructure(ch);
                    assertTrue(zip.entries().size() > 0, p.toString());
                }
            }
        }
        assertEquals(3, refused);
    }

    @Test
    void aWellFormedArchiveReadsAndItsRecordsTileTheFile() throws IOException {
        Path p = write(new Zip().stored("a/data.pkl", "pickle").stored("a/version", "3\n").bytes());
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ZipDirectory zip = ZipDirectory.read(ch);
            assertEquals(List.of("data.pkl", "version"), zip.entries().stream().map(ZipDirectory.Entry::relativeName).toList());
            assertEquals("pickle", new String(ZipDirectory.content(ch, zip.find("data.pkl").orElseThrow(), 100),
                    StandardCharsets.UTF_8));
        }
    }

    @Test
    void aCommentOrBytesAfterTheEndRecordAreRefused() throws IOException {
        Zip zip = new Zip().stored("a/data.pkl", "pickle");
        assertRefused(zip.bytes(new byte[0], new byte[] {'x'}), "the ZIP end record is followed by 1 byte (a comment");
        assertRefused(zip.bytes(new byte[0], new byte[] {0, 0, 0}), "the ZIP end record is followed by 3 bytes");
        assertRefused(zip.bytes("a comment".getBytes(StandardCharsets.US_ASCII), new byte[0]),
                "the ZIP end record is followed by 9 bytes");
        assertRefused(new byte[30], "no end-of-central-directory record (truncated or not a zip)");
    }

    @Test
    void bytesBetweenTheCentralDirectoryAndTheEndRecordAreRefused() throws IOException {
        Zip zip = new Zip().stored("a/data.pkl", "pickle");
        assertRefused(zip.bytes(new byte[7], false), "the central directory does not end where the end record "
                + "begins (7 bytes between them)");
        assertRefused(zip.bytes(new byte[7], true), "the central directory does not end where the end record "
                + "begins (7 bytes between them)");
        try (FileChannel ch = FileChannel.open(write(zip.bytes(new byte[0], true)), StandardOpenOption.READ)) {
            assertEquals(1, ZipDirectory.read(ch).entries().size()); // the same with ZIP64 end records reads
        }
    }

    @Test
    void bytesNoRecordCoversAreRefused() throws IOException {
        assertRefused(new Zip().gap(5).stored("a/data.pkl", "pickle").bytes(),
                "5 bytes before the first ZIP record belong to no record");
        assertRefused(new Zip().stored("a/data.pkl", "pickle").gap(3).stored("a/version", "3").bytes(),
                "3 bytes after ZIP record 'a/data.pkl' belong to no record");
        assertRefused(new Zip().stored("a/data.pkl", "pickle").gap(2).bytes(),
                "2 bytes between ZIP record 'a/data.pkl' and the central directory belong to no record");
    }

    @Test
    void aCentralDirectoryOfGigabytesIsRefusedBeforeItIsRead() throws IOException {
        // A sparse 2.2 GB file whose end record claims a central directory of almost 2 GiB ending
        // right before it: within the file, so only a cap on its size keeps it out of the heap.
        long cdSize = Integer.MAX_VALUE - 64;
        long fileSize = 2_200_000_000L;
        Path p = tmp.resolve("huge-directory.pt");
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            ch.write(le(4).putInt(0x04034b50).flip(), 0);
            ch.write(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 1000)
                    .putShort((short) 1000).putInt((int) cdSize).putInt((int) (fileSize - 22 - cdSize))
                    .putShort((short) 0).flip(), fileSize - 22);
        }
        assertEquals(fileSize, Files.size(p));
        WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFiles.open(p));
        assertEquals("central directory too large (" + cdSize + " bytes, at most " + (32 << 20) + ")", e.getMessage());
    }

    @Test
    void aDeflateRecordWithGigabytesOfCompressedInputIsRefusedUnread() throws IOException {
        // data.pkl: 4 bytes of content in a 1.5 GB DEFLATE record (a valid stream, then a hole).
        byte[] pickle = {(byte) 0x80, 2, 'N', '.'};
        byte[] stream = deflate(pickle);
        long compressed = 1_500_000_000L;
        Path p = tmp.resolve("huge-record.pt");
        Zip zip = new Zip().record("a/data.pkl", 8, pickle, stream, compressed).stored("a/version", "3\n");
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            zip.writeSparse(ch);
        }
        assertTrue(Files.size(p) > compressed);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ZipDirectory.Entry e = ZipDirectory.read(ch).find("data.pkl").orElseThrow();
            WeightFileException ex = assertThrows(WeightFileException.class, () -> ZipDirectory.content(ch, e, 100));
            assertEquals("record 'data.pkl' has 1500000000 compressed bytes for 4 bytes of content, more than "
                    + "DEFLATE ever needs", ex.getMessage());
        }
        assertThrows(WeightFileException.class, () -> WeightFiles.open(p));
    }

    @Test
    void deflateRecordsInflateAcrossManyReadsAndExactlyToTheirSize() throws IOException {
        byte[] content = new byte[300_000];
        new Random(7).nextBytes(content); // incompressible: several 64 KiB reads of input
        for (int i = 0; i < content.length; i += 3) {
            content[i] = 'x';
        }
        byte[] stream = deflate(content);
        assertTrue(stream.length > 3 * 65536, stream.length + " compressed bytes");
        Path p = write(new Zip().record("a/data.pkl", 8, content, stream, stream.length).bytes());
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ZipDirectory.Entry e = ZipDirectory.read(ch).find("data.pkl").orElseThrow();
            assertArrayEquals(content, ZipDirectory.content(ch, e, content.length));
            assertThrows(WeightFileException.class, () -> ZipDirectory.content(ch, e, content.length - 1));
        }

        byte[] trailing = new byte[stream.length + 5];
        System.arraycopy(stream, 0, trailing, 0, stream.length);
        Path q = write(new Zip().record("a/data.pkl", 8, content, trailing, trailing.length).bytes());
        try (FileChannel ch = FileChannel.open(q, StandardOpenOption.READ)) {
            ZipDirectory.Entry e = ZipDirectory.read(ch).find("data.pkl").orElseThrow();
            WeightFileException ex = assertThrows(WeightFileException.class,
                    () -> ZipDirectory.content(ch, e, content.length));
            assertEquals("record 'data.pkl' has bytes after its DEFLATE data", ex.getMessage());
        }
    }

    @Test
    void dataDescriptorsMustGiveTheCentralSizesInEitherWidth() throws IOException {
        CRC32 crc = new CRC32();
        crc.update("pickle".getBytes(StandardCharsets.UTF_8));
        int c = (int) crc.getValue();
        byte[] narrow = le(16).putInt(0x08074b50).putInt(c).putInt(6).putInt(6).array();
        byte[] wide = le(24).putInt(0x08074b50).putInt(c).putLong(6).putLong(6).array(); // torch past 4 GiB
        for (byte[] d : List.of(narrow, wide)) {
            Path p = write(new Zip().described("a/data.pkl", "pickle", d).stored("a/version", "3").bytes());
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                ZipDirectory.Entry e = ZipDirectory.read(ch).find("data.pkl").orElseThrow();
                assertEquals(30 + "a/data.pkl".length() + 6 + d.length, e.recordEnd());
                assertEquals("pickle", new String(ZipDirectory.content(ch, e, 6), StandardCharsets.UTF_8));
            }
        }
        byte[] lying = le(16).putInt(0x08074b50).putInt(c).putInt(6).putInt(7).array();
        assertRefused(new Zip().described("a/data.pkl", "pickle", lying).bytes(),
                "data descriptor of 'a/data.pkl' disagrees with the central directory");
        // a descriptor shorter than its record's end: the next bytes belong to no record
        byte[] padded = le(20).putInt(0x08074b50).putInt(c).putInt(6).putInt(6).putInt(0).array();
        assertRefused(new Zip().described("a/data.pkl", "pickle", padded).bytes(),
                "4 bytes between ZIP record 'a/data.pkl' and the central directory belong to no record");
    }

    private void assertRefused(byte[] archive, String message) throws IOException {
        Path p = write(archive);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            WeightFileException e = assertThrows(WeightFileException.class, () -> ZipDirectory.read(ch));
            assertTrue(e.getMessage().startsWith(message), e.getMessage());
        }
    }

    private Path write(byte[] bytes) throws IOException {
        return Files.write(Files.createTempFile(tmp, "archive", ".pt"), bytes);
    }

    private static byte[] deflate(byte[] data) {
        Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return out.toByteArray();
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * A ZIP built by hand: records (no data descriptors) and stray bytes, in order; the central
     * directory and end records after them, optionally with bytes between, a comment, or trailing bytes.
     */
    private static final class Zip {
        private record Part(String name, int method, byte[] content, byte[] data, long compressedSize, int gap,
                            byte[] descriptor) {
        }

        private final List<Part> parts = new ArrayList<>();

        Zip stored(String name, String content) {
            byte[] b = content.getBytes(StandardCharsets.UTF_8);
            return record(name, 0, b, b, b.length);
        }

        /** A record whose compressed size may exceed {@code data}: the rest is a hole (sparse files only). */
        Zip record(String name, int method, byte[] content, byte[] data, long compressedSize) {
            parts.add(new Part(name, method, content, data, compressedSize, 0, null));
            return this;
        }

        /** A STORED record with general-purpose flag 3 (as torch writes them): these bytes after its data. */
        Zip described(String name, String content, byte[] descriptor) {
            byte[] b = content.getBytes(StandardCharsets.UTF_8);
            parts.add(new Part(name, 0, b, b, b.length, 0, descriptor));
            return this;
        }

        Zip gap(int bytes) {
            parts.add(new Part(null, 0, null, null, 0, bytes, null));
            return this;
        }

        byte[] bytes() throws IOException {
            return bytes(new byte[0], new byte[0]);
        }

        byte[] bytes(byte[] comment, byte[] trailing) throws IOException {
            return build(new byte[0], false, comment, trailing);
        }

        /** With {@code between} after the central directory, before the (ZIP64, if asked) end records. */
        byte[] bytes(byte[] between, boolean zip64) throws IOException {
            return build(between, zip64, new byte[0], new byte[0]);
        }

        private byte[] build(byte[] between, boolean zip64, byte[] comment, byte[] trailing) throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream central = new ByteArrayOutputStream();
            int count = 0;
            for (Part part : parts) {
                if (part.name() == null) {
                    out.write(new byte[part.gap()]);
                    continue;
                }
                count++;
                int offset = out.size();
                out.write(localHeader(part).array());
                out.write(part.data());
                if (part.descriptor() != null) {
                    out.write(part.descriptor());
                }
                central.write(centralHeader(part, offset).array());
            }
            int cdOffset = out.size();
            out.write(central.toByteArray());
            out.write(between);
            if (zip64) {
                int end64 = out.size();
                out.write(le(56).putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0)
                        .putInt(0).putLong(count).putLong(count).putLong(central.size()).putLong(cdOffset).array());
                out.write(le(20).putInt(0x07064b50).putInt(0).putLong(end64).putInt(1).array());
            }
            out.write(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) count)
                    .putShort((short) count).putInt(central.size()).putInt(cdOffset)
                    .putShort((short) comment.length).array());
            out.write(comment);
            out.write(trailing);
            return out.toByteArray();
        }

        /** Writes the archive with each record's missing compressed bytes left as a hole. */
        void writeSparse(FileChannel ch) throws IOException {
            ByteArrayOutputStream central = new ByteArrayOutputStream();
            long pos = 0;
            for (Part part : parts) {
                central.write(centralHeader(part, pos).array());
                ByteBuffer h = localHeader(part);
                int headerSize = h.capacity();
                ch.write(h, pos);
                ch.write(ByteBuffer.wrap(part.data()), pos + headerSize);
                pos += headerSize + part.compressedSize();
            }
            byte[] cd = central.toByteArray();
            ch.write(ByteBuffer.wrap(cd), pos);
            ch.write(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) parts.size())
                    .putShort((short) parts.size()).putInt(cd.length).putInt((int) pos).putShort((short) 0).flip(),
                    pos + cd.length);
        }

        /** The fields local and central header share; a local header with a descriptor has no CRC or sizes. */
        private static ByteBuffer common(Part part, boolean local) {
            CRC32 crc = new CRC32();
            crc.update(part.content());
            byte[] name = part.name().getBytes(StandardCharsets.UTF_8);
            boolean zeros = local && part.descriptor() != null;
            return le(26).putShort((short) 20).putShort((short) (part.descriptor() != null ? 0x808 : 0x800))
                    .putShort((short) part.method()).putShort((short) 0).putShort((short) 0x21)
                    .putInt(zeros ? 0 : (int) crc.getValue()).putInt(zeros ? 0 : (int) part.compressedSize())
                    .putInt(zeros ? 0 : part.content().length).putShort((short) name.length).putShort((short) 0);
        }

        private static ByteBuffer localHeader(Part part) {
            byte[] name = part.name().getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = le(30 + name.length).putInt(0x04034b50).put(common(part, true).array()).put(name);
            return b.clear();
        }

        private static ByteBuffer centralHeader(Part part, long offset) {
            byte[] name = part.name().getBytes(StandardCharsets.UTF_8);
            return le(46 + name.length).putInt(0x02014b50).putShort((short) 20).put(common(part, false).array())
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0).putInt((int) offset)
                    .put(name);
        }
    }
}
