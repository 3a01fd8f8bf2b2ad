package org.flserver.tensor.pytorch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32;

/**
 * The ZIP container of a {@code torch.save} archive, laid out the way torch (miniz) writes it, so
 * that torch's reader takes it: every record STORED with a data descriptor, its payload 64-byte
 * aligned through an {@code FB} extra field padded with {@code 'Z'}, an empty record without a data
 * descriptor, and a ZIP64 end record always; past 4 GiB the central directory gives sizes and
 * offset in one ZIP64 extra field. What goes into the records is {@link TorchSaveWriter}'s business.
 *
 * <p>The layout is computed up front, so {@link #size()} is known before anything is written, and
 * payloads are streamed from their buffers without copies; CRC-32s are computed while writing and
 * go into the data descriptors after the payloads. Immutable once built; {@link #writeTo} may run
 * several times and on several threads.
 */
final class TorchZipWriter {

    private static final int ALIGNMENT = 64;
    static final long U32 = 0xFFFFFFFFL;
    private static final int CHUNK = 64 * 1024;
    /** Central-directory ZIP64 extra field: id, length, size, compressed size, local header offset. */
    private static final int ZIP64_EXTRA = 4 + 24;

    /** One ZIP record: either small bytes made by the caller or a caller's tensor buffer (not copied). */
    static final class Record {
        final byte[] name;
        final byte[] bytes;
        final ByteBuffer buffer;

        private Record(String name, byte[] bytes, ByteBuffer buffer) {
            this.name = name.getBytes(StandardCharsets.UTF_8);
            this.bytes = bytes;
            this.buffer = buffer;
        }

        static Record bytes(String name, byte[] bytes) {
            return new Record(name, bytes, null);
        }

        /** The buffer's remaining bytes; they must not change until the archive is written. */
        static Record buffer(String name, ByteBuffer buffer) {
            return new Record(name, null, buffer);
        }

        long size() {
            return bytes != null ? bytes.length : buffer.remaining();
        }
    }

    private final List<Record> records;
    private final long[] offsets;
    private final long centralOffset;
    private final long size;
    private final long zip64From;

    /**
     * Lays out {@code records} in this order; ZIP64 fields are used for every offset at or past
     * {@code zip64From} (normally {@link #U32}; tests reach the ZIP64 layout with a small file).
     */
    TorchZipWriter(List<Record> records, long zip64From) {
        this.records = List.copyOf(records);
        this.zip64From = zip64From;
        this.offsets = new long[records.size()];
        long at = 0;
        for (int i = 0; i < records.size(); i++) {
            offsets[i] = at;
            Record r = records.get(i);
            at += 30 + r.name.length + 4 + padding(at, r.name.length) + r.size() + (r.size() > 0 ? 16 : 0);
        }
        this.centralOffset = at;
        long cd = 0;
        for (int i = 0; i < records.size(); i++) {
            cd += 46 + records.get(i).name.length + (offsets[i] >= zip64From ? ZIP64_EXTRA : 0);
        }
        this.size = centralOffset + cd + 56 + 20 + 22;
    }

    /** Exact number of bytes {@link #writeTo} writes. */
    long size() {
        return size;
    }

    /** Streams the archive to {@code out}; flushes, does not close it. */
    void writeTo(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        long[] crcs = new long[records.size()];
        byte[] chunk = null;
        long at = 0;
        for (int i = 0; i < records.size(); i++) {
            Record r = records.get(i);
            if (at != offsets[i]) {
                throw new IllegalStateException("layout mismatch at record " + i);
            }
            long size = r.size();
            int pad = padding(at, r.name.length);
            ByteBuffer h = le(30 + r.name.length + 4 + pad);
            h.putInt(0x04034b50).putShort((short) 0).putShort((short) flags(size)).putShort((short) 0)
                    .putInt(0).putInt(0).putInt(0).putInt(0)
                    .putShort((short) r.name.length).putShort((short) (4 + pad)).put(r.name)
                    .put((byte) 'F').put((byte) 'B').putShort((short) pad);
            while (h.hasRemaining()) {
                h.put((byte) 'Z');
            }
            out.write(h.array());
            CRC32 crc = new CRC32();
            if (r.bytes != null) {
                crc.update(r.bytes);
                out.write(r.bytes);
            } else {
                ByteBuffer b = r.buffer.duplicate();
                if (b.hasArray()) {
                    crc.update(b.duplicate());
                    out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
                } else {
                    if (chunk == null) {
                        chunk = new byte[CHUNK];
                    }
                    while (b.hasRemaining()) {
                        int n = Math.min(chunk.length, b.remaining());
                        b.get(chunk, 0, n);
                        crc.update(chunk, 0, n);
                        out.write(chunk, 0, n);
                    }
                }
            }
            crcs[i] = crc.getValue();
            if (size > 0) {
                ByteBuffer d = le(16).putInt(0x08074b50).putInt((int) crcs[i]).putInt((int) size).putInt((int) size);
                out.write(d.array());
            }
            at += h.capacity() + size + (size > 0 ? 16 : 0);
        }
        out.write(centralDirectoryAndEnd(crcs));
        out.flush();
    }

    private byte[] centralDirectoryAndEnd(long[] crcs) {
        ByteArrayOutputStream cd = new ByteArrayOutputStream();
        for (int i = 0; i < records.size(); i++) {
            Record r = records.get(i);
            boolean far = offsets[i] >= zip64From;
            // Past 4 GiB both sizes and the offset are 0xFFFFFFFF and the ZIP64 extra holds all
            // three. miniz marks only the fields that overflow; APPNOTE 4.5.3 allows either, and
            // torch's reader (TorchSaveWriterPythonIT) and java.util.zip (TorchSaveWriterTest) read
            // this form. A record's own size never passes 4 GiB: it is one byte array or buffer.
            int size32 = far ? (int) U32 : (int) r.size();
            ByteBuffer e = le(46 + r.name.length + (far ? ZIP64_EXTRA : 0));
            e.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) flags(r.size()))
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0)
                    .putInt((int) crcs[i]).putInt(size32).putInt(size32)
                    .putShort((short) r.name.length).putShort((short) (far ? ZIP64_EXTRA : 0))
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt(far ? (int) U32 : (int) offsets[i]).put(r.name);
            if (far) {
                e.putShort((short) 1).putShort((short) 24).putLong(r.size()).putLong(r.size()).putLong(offsets[i]);
            }
            cd.writeBytes(e.array());
        }
        long cdSize = cd.size();
        long count = records.size();
        long end64 = centralOffset + cdSize;
        ByteBuffer end = le(56 + 20 + 22);
        end.putInt(0x06064b50).putLong(44).putShort((short) 0x031E).putShort((short) 45).putInt(0).putInt(0)
                .putLong(count).putLong(count).putLong(cdSize).putLong(centralOffset);
        end.putInt(0x07064b50).putInt(0).putLong(end64).putInt(1);
        short classicCount = (short) (count >= 0xFFFF ? 0xFFFF : count);
        end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort(classicCount)
                .putShort(classicCount)
                .putInt(cdSize >= zip64From ? (int) U32 : (int) cdSize)
                .putInt(centralOffset >= zip64From ? (int) U32 : (int) centralOffset)
                .putShort((short) 0);
        cd.writeBytes(end.array());
        return cd.toByteArray();
    }

    /** torch writes an empty record without a data descriptor (flag bit 3 clear). */
    private static int flags(long size) {
        return size > 0 ? 0x0808 : 0x0800;
    }

    /** Bytes of {@code 'Z'} padding after the 4-byte FB header that put the payload on a 64-byte boundary. */
    private static int padding(long headerOffset, int nameLength) {
        long start = headerOffset + 30 + nameLength + 4;
        return (int) ((ALIGNMENT - start % ALIGNMENT) % ALIGNMENT);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
