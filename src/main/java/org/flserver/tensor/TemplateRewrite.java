package org.flserver.tensor;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Writes a new weight file as a copy of a trusted template in which only storage payloads change:
 * every byte outside the storages (pickle, code, constants, extra records, version, ZIP headers,
 * safetensors header) is copied unchanged, payloads are written in place at the same offsets and
 * lengths, and each payload's CRC-32 is patched wherever the format records it.
 *
 * <p>This is what keeps the output safe: clients will {@code torch.load} it, so no byte of a
 * client's pickle may ever reach it, and torch's own reader sees exactly the layout torch wrote.
 *
 * <p>The file is built under a temporary name next to the destination and only
 * {@linkplain #commit() committed} (fsync, atomic rename, directory fsync) when complete; closing
 * without committing deletes it. {@link #write} may be called from several threads at once for
 * disjoint ranges.
 */
public final class TemplateRewrite implements Closeable {
    private final WeightFile template;
    private final Path out;
    private final Path temp;
    private final FileChannel channel;
    private boolean committed;

    /** Payload bytes written so far, and the count at which the next early flush starts. */
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong nextFlush = new AtomicLong(FLUSH_EVERY);
    /** The running early flush, if any; its failure, which commit reports. */
    private final AtomicReference<Thread> flusher = new AtomicReference<>();
    private final AtomicReference<IOException> flushFailure = new AtomicReference<>();

    /**
     * Every this many payload bytes, a background thread starts {@code fdatasync} on what has been
     * written so far, so that the disk writes overlap the computation instead of all waiting for
     * {@link #commit()}. It only starts write-back earlier; commit still forces the whole file.
     */
    static final long FLUSH_EVERY = 16L << 20;

    private TemplateRewrite(WeightFile template, Path out, Path temp, FileChannel channel) {
        this.template = template;
        this.out = out;
        this.temp = temp;
        this.channel = channel;
    }

    /** Creates the temporary file and copies every template byte that is not a storage payload. */
    public static TemplateRewrite begin(WeightFile template, Path out) throws IOException {
        Path dir = out.toAbsolutePath().getParent();
        Path temp = Files.createTempFile(dir, "." + out.getFileName() + ".", ".tmp");
        FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.READ);
        TemplateRewrite w = new TemplateRewrite(template, out, temp, ch);
        try (FileChannel src = FileChannel.open(template.path(), StandardOpenOption.READ)) {
            if (src.size() != template.size()) {
                throw new WeightFileException("template " + template.path().getFileName() + " changed after it was read");
            }
            List<StorageInfo> byOffset = new ArrayList<>(template.storages());
            byOffset.sort(Comparator.comparingLong(StorageInfo::offset));
            long at = 0;
            for (StorageInfo s : byOffset) {
                copy(src, ch, at, s.offset() - at);
                at = Math.max(at, s.offset() + s.length());
            }
            copy(src, ch, at, template.size() - at);
            if (ch.size() < template.size()) {
                // the file ends with a payload (safetensors): give it its final length now
                ch.write(ByteBuffer.allocate(1), template.size() - 1);
            }
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    private static void copy(FileChannel src, FileChannel dst, long pos, long len) throws IOException {
        long done = 0;
        while (done < len) {
            dst.position(pos + done);
            long n = src.transferTo(pos + done, len - done, dst);
            if (n <= 0) {
                throw new IOException("short copy from the template");
            }
            done += n;
        }
    }

    public WeightFile template() {
        return template;
    }

    /** Writes {@code data} at {@code byteOffset} inside the template's storage {@code s}. */
    public void write(StorageInfo s, long byteOffset, ByteBuffer data) throws IOException {
        if (byteOffset < 0 || byteOffset + data.remaining() > s.length()) {
            throw new IllegalArgumentException("write outside storage " + s.key());
        }
        long pos = s.offset() + byteOffset;
        int len = data.remaining();
        while (data.hasRemaining()) {
            pos += channel.write(data, pos);
        }
        long total = written.addAndGet(len);
        long at = nextFlush.get();
        if (total >= at && nextFlush.compareAndSet(at, total + FLUSH_EVERY)) {
            startFlush();
        }
    }

    /** Starts an early flush unless one is still running (then the next threshold will try again). */
    private void startFlush() {
        Thread t = new Thread(() -> {
            try {
                channel.force(false);
            } catch (ClosedChannelException e) {
                // closed meanwhile: commit has not happened and will not, nothing to report
            } catch (IOException e) {
                flushFailure.compareAndSet(null, e);
            } finally {
                flusher.compareAndSet(Thread.currentThread(), null);
            }
        }, "template-rewrite-flush");
        t.setDaemon(true);
        if (flusher.compareAndSet(null, t)) {
            t.start();
        }
    }

    /** Waits for a running early flush; true unless interrupted. */
    private void awaitFlush() {
        Thread t = flusher.get();
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Records {@code crc32} (of the storage's complete new payload) wherever the format keeps it. */
    public void setChecksum(StorageInfo s, int crc32) throws IOException {
        for (long pos : s.crc32Offsets()) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, crc32);
            while (b.hasRemaining()) {
                channel.write(b, pos + b.position());
            }
        }
    }

    /** Flushes the file to disk and renames it atomically to the destination. */
    public void commit() throws IOException {
        awaitFlush();
        IOException early = flushFailure.get();
        if (early != null) {
            throw early; // after a failed fsync, a later one may succeed without the lost pages
        }
        channel.force(true);
        channel.close();
        DurableMove.replace(temp, out);
        committed = true;
    }

    @Override
    public void close() throws IOException {
        if (!committed) {
            awaitFlush();
            channel.close();
            Files.deleteIfExists(temp);
        }
    }

    /**
     * CRC-32 of the concatenation A‖B from crc(A), crc(B) and len(B) (zlib's {@code crc32_combine}),
     * so that blocks checksummed by different threads combine into the record's CRC.
     */
    public static int combineCrc32(int crc1, int crc2, long len2) {
        if (len2 <= 0) {
            return crc1;
        }
        long[] even = new long[32];
        long[] odd = new long[32];
        odd[0] = 0xEDB88320L;
        long row = 1;
        for (int n = 1; n < 32; n++) {
            odd[n] = row;
            row <<= 1;
        }
        square(even, odd);
        square(odd, even);
        long c1 = crc1 & 0xFFFFFFFFL;
        do {
            square(even, odd);
            if ((len2 & 1) != 0) {
                c1 = times(even, c1);
            }
            len2 >>= 1;
            if (len2 == 0) {
                break;
            }
            square(odd, even);
            if ((len2 & 1) != 0) {
                c1 = times(odd, c1);
            }
            len2 >>= 1;
        } while (len2 != 0);
        return (int) (c1 ^ (crc2 & 0xFFFFFFFFL));
    }

    private static long times(long[] mat, long vec) {
        long sum = 0;
        for (int i = 0; vec != 0; i++, vec >>>= 1) {
            if ((vec & 1) != 0) {
                sum ^= mat[i];
            }
        }
        return sum;
    }

    private static void square(long[] square, long[] mat) {
        for (int n = 0; n < 32; n++) {
            square[n] = times(mat, mat[n]);
        }
    }
}
