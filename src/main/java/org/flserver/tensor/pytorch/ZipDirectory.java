package org.flserver.tensor.pytorch;

import org.flserver.tensor.WeightFileException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a PyTorch ZIP archive, read and cross-checked by hand.
 *
 * <p>Why not {@code java.util.zip}: {@code ZipInputStream} fails on every torch file (STORED records
 * with data descriptors), and {@code ZipFile} accepts duplicate and {@code ../} names and inflates
 * past declared sizes (and finds the central directory by other rules than libtorch). This reader
 * trusts nothing: it requires the end records where every ZIP reader finds the same ones (never
 * scanning local headers), checks every offset and length against the file size, requires each
 * local header to repeat its central name, requires the records to tile the file without gaps or
 * overlaps, validates names against the records torch writes, and knows where each record's CRC-32
 * is stored so that the writer can fix it.
 */
final class ZipDirectory {

    /** Caps that no torch archive comes near; they bound the work a hostile directory can cause. */
    static final int MAX_ENTRIES = 200_000;
    static final long MAX_INFLATED_RECORD = 64L << 20;
    static final long MAX_INFLATE_RATIO = 1_000;
    /**
     * The central directory is read whole, so its size is bounded before the read: 32 MiB holds the
     * directory of {@link #MAX_ENTRIES} records with names of over 100 bytes each.
     */
    static final long MAX_CENTRAL_DIRECTORY = 32L << 20;
    /** DEFLATE input is read from the file in pieces of this size, never whole. */
    private static final int INFLATE_CHUNK = 64 << 10;

    private static final int SIG_LOCAL = 0x04034b50;
    private static final int SIG_CENTRAL = 0x02014b50;
    private static final int SIG_EOCD = 0x06054b50;
    private static final int SIG_EOCD64 = 0x06064b50;
    private static final int SIG_LOCATOR64 = 0x07064b50;
    private static final int SIG_DESCRIPTOR = 0x08074b50;
    private static final long U32 = 0xFFFFFFFFL;

    private static final Pattern DIGITS = Pattern.compile("[0-9]{1,20}");
    private static final List<String> FIXED_NAMES = List.of("data.pkl", "version", ".data/version", "byteorder",
            ".format_version", ".storage_alignment", ".data/serialization_id", "constants.pkl");

    /** One record: its relative name (after {@code prefix/}) and where its bytes and checksums are. */
    record Entry(String name, String relativeName, int flags, int method, long crc32, long compressedSize,
                 long size, long localHeaderOffset, long dataOffset, long recordEnd, List<Long> crc32Offsets) {
        boolean stored() {
            return method == 0;
        }
    }

    private final String prefix;
    private final List<Entry> entries;
    private final Map<String, Entry> byRelativeName;

    private ZipDirectory(String prefix, List<Entry> entries) {
        this.prefix = prefix;
        this.entries = List.copyOf(entries);
        Map<String, Entry> m = new HashMap<>();
        for (Entry e : entries) {
            m.put(e.relativeName(), e);
        }
        this.byRelativeName = m;
    }

    String prefix() {
        return prefix;
    }

    List<Entry> entries() {
        return entries;
    }

    Optional<Entry> find(String relativeName) {
        return Optional.ofNullable(byRelativeName.get(relativeName));
    }

    /** Reads a torch archive's directory: every name must be one torch writes (§a). */
    static ZipDirectory read(FileChannel ch) throws IOException {
        return read(ch, true);
    }

    /**
     * Reads the ZIP structure with every check but the one on names: for callers that apply a name
     * policy of their own and want to name the offending record themselves
     * ({@link ArchiveRecords}). Names are then the full names, duplicates included.
     */
    static ZipDirectory readStructure(FileChannel ch) throws IOException {
        return read(ch, false);
    }

    /**
     * Finds the end records and the central directory so that every ZIP reader finds the same ones
     * (docs/pytorch-formats.md §a). ZIP readers differ where the format leaves room: libtorch's
     * miniz takes the last end signature with 22 bytes after it whatever its comment length says
     * and the central directory at its absolute offset; {@code java.util.zip.ZipFile} takes an end
     * record whose comment reaches the end of the file and assumes the central directory lies right
     * before it. An archive with a comment, trailing bytes, or bytes between the central directory
     * and the end records can therefore show one reader other records than another, so that a
     * check reads benign code while libtorch runs hostile code. torch writes none of these, so
     * they are refused: the end record is the file's last 22 bytes with an empty comment, the
     * ZIP64 end record and its locator (when present) lie directly before it, and the central
     * directory ends exactly where they begin.
     */
    private static ZipDirectory read(FileChannel ch, boolean torchNames) throws IOException {
        long fileSize = ch.size();
        if (fileSize < 22) {
            throw new WeightFileException("no end-of-central-directory record (truncated or not a zip)");
        }
        long eocdPos = fileSize - 22;
        ByteBuffer end = readAt(ch, eocdPos, 22);
        if (end.getInt(0) != SIG_EOCD || (end.getShort(20) & 0xFFFF) != 0) {
            throw noEndRecordAtTheEnd(ch, fileSize);
        }
        int disk = end.getShort(4) & 0xFFFF;
        int cdDisk = end.getShort(6) & 0xFFFF;
        long count = end.getShort(10) & 0xFFFF;
        long countDisk = end.getShort(8) & 0xFFFF;
        long cdSize = end.getInt(12) & U32;
        long cdOffset = end.getInt(16) & U32;
        long cdLimit = eocdPos;

        if (eocdPos >= 20 && readAt(ch, eocdPos - 20, 4).getInt(0) == SIG_LOCATOR64) {
            ByteBuffer loc = readAt(ch, eocdPos - 20, 20);
            long e64 = loc.getLong(8);
            if (loc.getInt(4) != 0 || loc.getInt(16) != 1 || e64 != eocdPos - 20 - 56) {
                throw new WeightFileException("bad ZIP64 end-of-central-directory locator (the ZIP64 end record "
                        + "must lie directly before it)");
            }
            ByteBuffer z = readAt(ch, e64, 56);
            if (z.getInt(0) != SIG_EOCD64 || z.getLong(4) != 44) {
                throw new WeightFileException("bad ZIP64 end-of-central-directory record");
            }
            long count64 = z.getLong(32);
            long countDisk64 = z.getLong(24);
            long cdSize64 = z.getLong(40);
            long cdOffset64 = z.getLong(48);
            if (z.getInt(16) != 0 || z.getInt(20) != 0
                    || !agrees(count, 0xFFFF, count64) || !agrees(countDisk, 0xFFFF, countDisk64)
                    || !agrees(cdSize, U32, cdSize64) || !agrees(cdOffset, U32, cdOffset64)) {
                throw new WeightFileException("the ZIP64 end record disagrees with the end record");
            }
            count = count64;
            countDisk = countDisk64;
            cdSize = cdSize64;
            cdOffset = cdOffset64;
            cdLimit = e64;
        }
        if (disk != 0 || cdDisk != 0 || count != countDisk) {
            throw new WeightFileException("multi-disk ZIP archives are not supported");
        }
        if (count < 1 || count > MAX_ENTRIES) {
            throw new WeightFileException("unreasonable number of ZIP entries: " + count);
        }
        if (cdOffset < 0 || cdSize < 0 || cdSize > cdLimit || cdOffset > cdLimit - cdSize || cdSize < 46 * count) {
            throw new WeightFileException("central directory lies outside the file");
        }
        // Bounded before it is read: the file size alone would admit a 2 GiB read into the heap.
        if (cdSize > MAX_CENTRAL_DIRECTORY) {
            throw new WeightFileException("central directory too large (" + cdSize + " bytes, at most "
                    + MAX_CENTRAL_DIRECTORY + ")");
        }
        if (cdOffset + cdSize != cdLimit) {
            throw new WeightFileException("the central directory does not end where the end record begins ("
                    + (cdLimit - cdOffset - cdSize) + " bytes between them); ZIP readers would disagree about "
                    + "which records the archive holds");
        }
        ByteBuffer cd = readAt(ch, cdOffset, (int) cdSize);
        List<Entry> entries = new ArrayList<>((int) count);
        String prefix = null;
        java.util.Set<String> seen = new java.util.HashSet<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p > cd.limit() - 46 || cd.getInt(p) != SIG_CENTRAL) {
                throw new WeightFileException("corrupt central directory entry " + i);
            }
            int flags = cd.getShort(p + 8) & 0xFFFF;
            int method = cd.getShort(p + 10) & 0xFFFF;
            long crc = cd.getInt(p + 16) & U32;
            long csize = cd.getInt(p + 20) & U32;
            long usize = cd.getInt(p + 24) & U32;
            int nameLen = cd.getShort(p + 28) & 0xFFFF;
            int extraLen = cd.getShort(p + 30) & 0xFFFF;
            int commentLen = cd.getShort(p + 32) & 0xFFFF;
            int diskStart = cd.getShort(p + 34) & 0xFFFF;
            long lho = cd.getInt(p + 42) & U32;
            if ((long) p + 46 + nameLen + extraLen + commentLen > cd.limit()) {
                throw new WeightFileException("corrupt central directory entry " + i);
            }
            byte[] nameBytes = new byte[nameLen];
            cd.get(p + 46, nameBytes);
            String name = decodeName(nameBytes);
            // ZIP64 extra: 8-byte values replace, in this order, the fields that hold 0xFFFFFFFF.
            int x = p + 46 + nameLen;
            int xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = cd.getShort(x) & 0xFFFF;
                int len = cd.getShort(x + 2) & 0xFFFF;
                if (x + 4 + len > xEnd) {
                    throw new WeightFileException("corrupt extra field in entry '" + name + "'");
                }
                if (id == 1) {
                    int q = x + 4;
                    int qEnd = q + len;
                    if (usize == U32) {
                        usize = long64(cd, q, qEnd, name);
                        q += 8;
                    }
                    if (csize == U32) {
                        csize = long64(cd, q, qEnd, name);
                        q += 8;
                    }
                    if (lho == U32) {
                        lho = long64(cd, q, qEnd, name);
                    }
                }
                x += 4 + len;
            }
            if (diskStart != 0 && diskStart != 0xFFFF) {
                throw new WeightFileException("multi-disk ZIP archives are not supported");
            }
            if ((flags & 1) != 0) {
                throw new WeightFileException("encrypted ZIP entry '" + name + "'");
            }
            if (method != 0 && method != 8) {
                throw new WeightFileException("unsupported compression method " + method + " in '" + name + "'");
            }
            if (method == 0 && csize != usize) {
                throw new WeightFileException("stored entry '" + name + "' has different sizes");
            }
            String rel = name;
            if (torchNames) {
                if (prefix == null) {
                    int slash = name.indexOf('/');
                    if (slash <= 0) {
                        throw new WeightFileException("bad entry name '" + name + "'");
                    }
                    prefix = name.substring(0, slash);
                    checkSegment(prefix, name);
                }
                rel = relativeName(prefix, name);
                if (!seen.add(rel)) {
                    throw new WeightFileException("duplicate entry name '" + name + "'");
                }
            }
            entries.add(new Entry(name, rel, flags, method, crc, csize, usize, lho, -1, -1,
                    List.of(cdOffset + p + 16L)));
            p += 46 + nameLen + extraLen + commentLen;
        }
        if (p != cd.limit()) {
            throw new WeightFileException("central directory size does not match its entries");
        }
        List<Entry> located = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            located.add(locate(ch, e, cdOffset));
        }
        checkContiguous(located, cdOffset);
        return new ZipDirectory(prefix == null ? "" : prefix, located);
    }

    private static boolean agrees(long classic, long sentinel, long zip64) {
        return classic == sentinel || classic == zip64;
    }

    private static long long64(ByteBuffer b, int q, int end, String name) throws WeightFileException {
        if (q + 8 > end) {
            throw new WeightFileException("short ZIP64 extra field in entry '" + name + "'");
        }
        long v = b.getLong(q);
        if (v < 0) {
            throw new WeightFileException("ZIP64 value out of range in entry '" + name + "'");
        }
        return v;
    }

    /** Reads the local header: the name must repeat, and data and descriptor must fit in the file. */
    private static Entry locate(FileChannel ch, Entry e, long cdOffset) throws IOException {
        long lho = e.localHeaderOffset();
        if (lho > cdOffset - 30) {
            throw new WeightFileException("local header of '" + e.name() + "' lies outside the file");
        }
        ByteBuffer h = readAt(ch, lho, 30);
        if (h.getInt(0) != SIG_LOCAL) {
            throw new WeightFileException("no local header for '" + e.name() + "'");
        }
        int flags = h.getShort(6) & 0xFFFF;
        int method = h.getShort(8) & 0xFFFF;
        long localCrc = h.getInt(14) & U32;
        int nameLen = h.getShort(26) & 0xFFFF;
        int extraLen = h.getShort(28) & 0xFFFF;
        byte[] central = e.name().getBytes(StandardCharsets.UTF_8);
        if (nameLen != central.length || lho + 30 + nameLen > cdOffset
                || !Arrays.equals(readAt(ch, lho + 30, nameLen).array(), central)) {
            throw new WeightFileException("local header name of '" + e.name() + "' differs from the central directory");
        }
        if (method != e.method() || (flags & 8) != (e.flags() & 8)) {
            throw new WeightFileException("local header of '" + e.name() + "' disagrees with the central directory");
        }
        long data = lho + 30 + nameLen + extraLen;
        if (data > cdOffset || e.compressedSize() > cdOffset - data) {
            throw new WeightFileException("record '" + e.name() + "' extends past the central directory");
        }
        long end = data + e.compressedSize();
        List<Long> crcOffsets = new ArrayList<>(e.crc32Offsets());
        long recordEnd = end;
        if ((flags & 8) != 0) {
            long crcPos = end;
            if (end + 4 <= cdOffset && readAt(ch, end, 4).getInt(0) == SIG_DESCRIPTOR) {
                crcPos = end + 4;
            }
            if (crcPos + 12 > cdOffset) {
                throw new WeightFileException("data descriptor of '" + e.name() + "' lies outside the file");
            }
            ByteBuffer d = readAt(ch, crcPos, (int) Math.min(20, cdOffset - crcPos));
            if ((d.getInt(0) & U32) != e.crc32()) {
                throw new WeightFileException("data descriptor of '" + e.name() + "' disagrees with the central directory");
            }
            // The sizes follow the CRC: 4 bytes each, or 8 (torch, when the record or its offset passes
            // 4 GiB). Which form it is decides where the record ends, so the sizes must be the central
            // ones; the 4-byte form of a record past 4 GiB holds them cut to 32 bits (TorchZipWriter
            // writes that). No reader takes sizes from the descriptor, so this decides nothing else.
            boolean narrow = (d.getInt(4) & U32) == (e.compressedSize() & U32)
                    && (d.getInt(8) & U32) == (e.size() & U32);
            boolean wide = d.limit() == 20 && d.getLong(4) == e.compressedSize() && d.getLong(12) == e.size();
            boolean large = e.compressedSize() > U32 || e.size() > U32;
            if (narrow && !(wide && large)) {
                recordEnd = crcPos + 12;
            } else if (wide) {
                recordEnd = crcPos + 20;
            } else {
                throw new WeightFileException("data descriptor of '" + e.name() + "' disagrees with the central directory");
            }
            crcOffsets.add(0, crcPos);
            if (localCrc != 0) {
                crcOffsets.add(lho + 14);
            }
        } else {
            if (localCrc != e.crc32()) {
                throw new WeightFileException("local header CRC of '" + e.name() + "' disagrees with the central directory");
            }
            crcOffsets.add(0, lho + 14);
        }
        return new Entry(e.name(), e.relativeName(), e.flags(), e.method(), e.crc32(), e.compressedSize(), e.size(),
                lho, data, recordEnd, crcOffsets);
    }

    /**
     * The local records must tile the bytes before the central directory: the first at offset 0,
     * each next one where the previous one's data (and descriptor) ends, the last one ending where
     * the central directory begins. Overlapping records would let one byte range be two records;
     * bytes no record covers could hold records for a reader that scans local headers.
     */
    private static void checkContiguous(List<Entry> entries, long cdOffset) throws WeightFileException {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::localHeaderOffset));
        long previousEnd = 0;
        String previous = null;
        for (Entry e : sorted) {
            if (e.localHeaderOffset() < previousEnd) {
                throw new WeightFileException("ZIP records '" + previous + "' and '" + e.name() + "' overlap");
            }
            if (e.localHeaderOffset() > previousEnd) {
                throw new WeightFileException((e.localHeaderOffset() - previousEnd) + " bytes "
                        + (previous == null ? "before the first ZIP record" : "after ZIP record '" + previous + "'")
                        + " belong to no record");
            }
            previousEnd = e.recordEnd();
            previous = e.name();
        }
        if (previousEnd > cdOffset) {
            throw new WeightFileException("ZIP record '" + previous + "' overlaps the central directory");
        }
        if (previousEnd < cdOffset) {
            throw new WeightFileException((cdOffset - previousEnd) + " bytes between ZIP record '" + previous
                    + "' and the central directory belong to no record");
        }
    }

    /**
     * The refusal when the file's last 22 bytes are no end record with an empty comment: says
     * whether an end record lies elsewhere (with a comment, or followed by other bytes) or none at all.
     */
    private static WeightFileException noEndRecordAtTheEnd(FileChannel ch, long fileSize) throws IOException {
        int tailLen = (int) Math.min(fileSize, 22 + 0xFFFF);
        ByteBuffer tail = readAt(ch, fileSize - tailLen, tailLen);
        for (int p = tailLen - 22; p >= 0; p--) {
            if (tail.getInt(p) == SIG_EOCD) {
                int after = tailLen - 22 - p;
                return new WeightFileException("the ZIP end record is followed by " + after + " byte"
                        + (after == 1 ? "" : "s") + " (a comment or trailing data); torch writes neither, and "
                        + "ZIP readers disagree about which records such a file holds");
            }
        }
        return new WeightFileException("no end-of-central-directory record (truncated or not a zip)");
    }

    private static String decodeName(byte[] bytes) throws WeightFileException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new WeightFileException("entry name is not valid UTF-8");
        }
    }

    /** Validates {@code prefix/rel} against the records torch writes and returns {@code rel}. */
    private static String relativeName(String prefix, String name) throws WeightFileException {
        if (!name.startsWith(prefix + "/")) {
            throw new WeightFileException("bad entry name '" + name + "'");
        }
        String rel = name.substring(prefix.length() + 1);
        for (String seg : rel.split("/", -1)) {
            checkSegment(seg, name);
        }
        if (FIXED_NAMES.contains(rel)) {
            return rel;
        }
        if (rel.startsWith("data/") && DIGITS.matcher(rel.substring(5)).matches()
                || rel.startsWith("constants/") && DIGITS.matcher(rel.substring(10)).matches()
                || rel.startsWith("code/") || rel.startsWith("extra/")) {
            return rel;
        }
        if (rel.equals("bytecode.pkl")) {
            throw new WeightFileException("lite-interpreter (mobile) TorchScript archives are not supported");
        }
        throw new WeightFileException("bad entry name '" + name + "'");
    }

    private static void checkSegment(String seg, String name) throws WeightFileException {
        if (seg.isEmpty() || seg.equals(".") || seg.equals("..") || seg.indexOf('\\') >= 0 || seg.indexOf('\0') >= 0
                || seg.indexOf(':') >= 0) {
            throw new WeightFileException("bad entry name '" + name + "'");
        }
    }

    /**
     * Returns a record's content, inflating DEFLATE records with a hard bound: never more than the
     * declared size (plus one byte to detect a lie), and never more than {@code max} bytes at all.
     * The compressed bytes are bounded too (at most what DEFLATE needs for the declared size) and
     * read from the file in {@link #INFLATE_CHUNK} pieces, never whole: a 4-byte record cannot make
     * the server read a gigabyte of compressed input into the heap.
     */
    static byte[] content(FileChannel ch, Entry e, long max) throws IOException {
        if (e.size() > max || e.size() > Integer.MAX_VALUE - 8) {
            throw new WeightFileException("record '" + e.relativeName() + "' is too large (" + e.size() + " bytes)");
        }
        if (e.stored()) {
            return readAt(ch, e.dataOffset(), (int) e.size()).array();
        }
        if (e.compressedSize() > deflateBound(e.size())) {
            throw new WeightFileException("record '" + e.relativeName() + "' has " + e.compressedSize()
                    + " compressed bytes for " + e.size() + " bytes of content, more than DEFLATE ever needs");
        }
        if (e.size() > MAX_INFLATE_RATIO * Math.max(1, e.compressedSize()) + 1024) {
            throw new WeightFileException("record '" + e.relativeName() + "' claims an implausible compression ratio");
        }
        Inflater inf = new Inflater(true);
        try {
            byte[] out = new byte[(int) e.size() + 1];
            int n = 0;
            long read = 0;
            while (n < out.length && !inf.finished()) {
                if (inf.needsInput()) {
                    if (read == e.compressedSize()) {
                        break;
                    }
                    int len = (int) Math.min(INFLATE_CHUNK, e.compressedSize() - read);
                    inf.setInput(readAt(ch, e.dataOffset() + read, len).array());
                    read += len;
                }
                int k = inf.inflate(out, n, out.length - n);
                if (k == 0 && inf.needsDictionary()) {
                    break;
                }
                n += k;
            }
            if (n != e.size() || !inf.finished()) {
                throw new WeightFileException("record '" + e.relativeName() + "' does not inflate to its declared size");
            }
            if (inf.getBytesRead() != e.compressedSize()) {
                throw new WeightFileException("record '" + e.relativeName() + "' has bytes after its DEFLATE data");
            }
            return Arrays.copyOf(out, n);
        } catch (DataFormatException ex) {
            throw new WeightFileException("record '" + e.relativeName() + "' is not valid DEFLATE data");
        } finally {
            inf.end();
        }
    }

    /**
     * The most compressed bytes a DEFLATE stream of {@code size} bytes needs: worst case is stored
     * blocks, 5 bytes of header per 64 KiB (zlib's {@code deflateBound} is of the same order); the
     * rest is slack for small records and unusual but honest encoders.
     */
    static long deflateBound(long size) {
        return size + (size >> 10) + 1024;
    }

    /** Reads exactly {@code len} bytes at {@code pos}; the caller has checked the range. */
    static ByteBuffer readAt(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new WeightFileException("unexpected end of file at offset " + (pos + b.position()));
            }
        }
        return b.clear();
    }
}
