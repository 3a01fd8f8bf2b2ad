package org.flserver.aggregation;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import org.flserver.tensor.TorchTestFiles;

/**
 * Writes large synthetic {@code torch.save(state_dict)} archives of float32 tensors in torch 1.13's
 * exact layout (protocol-2 pickle, STORED records with data descriptors and 64-byte aligned payloads
 * behind an {@code FB} extra field, ZIP64 end records), for the memory test and the benchmark where
 * the small fixtures are too small. Element j of client c is {@link #value(int, long)}, so results can
 * be checked without keeping the inputs. Buffers are reused: writing does not grow the heap or the
 * native memory.
 */
public final class SyntheticTorchFiles {

    /**
     * One write buffer per thread for every file: a direct buffer per file or record would pile up
     * native memory until a GC runs, which the benchmark's resident-set figure would then include.
     */
    private static final ThreadLocal<ByteBuffer> CHUNK =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN));

    /** Elements per tensor; the last tensor holds the remainder. */
    static final long TENSOR_ELEMENTS = 1L << 22;

    private SyntheticTorchFiles() {
    }

    /** Client c's value for element j (j counted over the whole model): exact small binary fractions. */
    static float value(int client, long j) {
        return (j % 1024) * 0.25f - 100f + client;
    }

    public static void write(Path file, String prefix, long params, int client) throws IOException {
        List<Long> sizes = new ArrayList<>();
        for (long left = params; left > 0; left -= TENSOR_ELEMENTS) {
            sizes.add(Math.min(left, TENSOR_ELEMENTS));
        }
        List<long[]> central = new ArrayList<>(); // local header offset, crc, size
        List<String> names = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] pkl = pickle(sizes);
            record(ch, prefix + "/data.pkl", ByteBuffer.wrap(pkl), central, names, null);
            long first = 0;
            for (int k = 0; k < sizes.size(); k++) {
                long start = first;
                long n = sizes.get(k);
                record(ch, prefix + "/data/" + k, null, central, names, new long[]{start, n, client});
                first += n;
            }
            record(ch, prefix + "/version", ByteBuffer.wrap("3\n".getBytes(StandardCharsets.US_ASCII)), central,
                    names, null);
            long cdStart = ch.position();
            for (int i = 0; i < names.size(); i++) {
                byte[] name = names.get(i).getBytes(StandardCharsets.UTF_8);
                ByteBuffer h = le(46 + name.length);
                h.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) 0x0808)
                        .putShort((short) 0).putInt(0).putInt((int) central.get(i)[1])
                        .putInt((int) central.get(i)[2]).putInt((int) central.get(i)[2])
                        .putShort((short) name.length).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                        .putShort((short) 0).putInt(0).putInt((int) central.get(i)[0]).put(name);
                writeAll(ch, h.flip());
            }
            long cdEnd = ch.position();
            ByteBuffer end = le(56 + 20 + 22);
            end.putInt(0x06064b50).putLong(44).putShort((short) 0x031E).putShort((short) 45).putInt(0).putInt(0)
                    .putLong(names.size()).putLong(names.size()).putLong(cdEnd - cdStart).putLong(cdStart);
            end.putInt(0x07064b50).putInt(0).putLong(cdEnd).putInt(1);
            end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) names.size())
                    .putShort((short) names.size()).putInt((int) (cdEnd - cdStart)).putInt((int) cdStart)
                    .putShort((short) 0);
            writeAll(ch, end.flip());
        }
    }

    /** One STORED record: either fixed bytes, or generated float32 values {start, count, client}. */
    private static void record(FileChannel ch, String name, ByteBuffer data, List<long[]> central, List<String> names,
                               long[] generated) throws IOException {
        long lho = ch.position();
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        int pad = (int) ((64 - (lho + 30 + nb.length + 4) % 64) % 64);
        ByteBuffer h = le(30 + nb.length + 4 + pad);
        h.putInt(0x04034b50).putShort((short) 0).putShort((short) 0x0808).putShort((short) 0).putInt(0).putInt(0)
                .putInt(0).putInt(0).putShort((short) nb.length).putShort((short) (4 + pad)).put(nb)
                .putShort((short) 0x4246).putShort((short) pad);
        for (int i = 0; i < pad; i++) {
            h.put((byte) 'Z');
        }
        writeAll(ch, h.flip());
        CRC32 crc = new CRC32();
        long size;
        if (generated == null) {
            size = data.remaining();
            crc.update(data.duplicate());
            writeAll(ch, data);
        } else {
            size = generated[1] * 4;
            if (size >= 0xFFFFFFFFL) {
                throw new IllegalArgumentException("synthetic records stay below 4 GiB");
            }
            ByteBuffer buf = CHUNK.get();
            long j = generated[0];
            long endJ = generated[0] + generated[1];
            while (j < endJ) {
                buf.clear();
                while (buf.remaining() >= 4 && j < endJ) {
                    buf.putFloat(value((int) generated[2], j++));
                }
                buf.flip();
                crc.update(buf.duplicate());
                writeAll(ch, buf);
            }
        }
        ByteBuffer d = le(16).putInt(0x08074b50).putInt((int) crc.getValue()).putInt((int) size).putInt((int) size);
        writeAll(ch, d.flip());
        central.add(new long[]{lho, crc.getValue(), size});
        names.add(name);
    }

    /** The state_dict pickle: OrderedDict of {@code layer<k>.weight} → _rebuild_tensor_v2 on storage k. */
    private static byte[] pickle(List<Long> sizes) {
        ByteBuffer p = le(200 + sizes.size() * 160);
        p.put((byte) 0x80).put((byte) 2);
        global(p, "collections", "OrderedDict");
        p.put((byte) 'q').put((byte) 0).put((byte) ')').put((byte) 'R').put((byte) '(');
        for (int k = 0; k < sizes.size(); k++) {
            unicode(p, "layer" + k + ".weight");
            global(p, "torch._utils", "_rebuild_tensor_v2");
            p.put((byte) '(').put((byte) '(');
            unicode(p, "storage");
            global(p, "torch", "FloatStorage");
            unicode(p, Integer.toString(k));
            unicode(p, "cpu");
            long1(p, sizes.get(k));
            p.put((byte) 't').put((byte) 'Q');
            p.put((byte) 'K').put((byte) 0);
            long1(p, sizes.get(k));
            p.put((byte) 0x85);
            p.put((byte) 'K').put((byte) 1).put((byte) 0x85);
            p.put((byte) 0x89);
            p.put((byte) 'h').put((byte) 0).put((byte) ')').put((byte) 'R');
            p.put((byte) 't').put((byte) 'R');
        }
        p.put((byte) 'u').put((byte) '.');
        byte[] r = new byte[p.position()];
        p.flip().get(r);
        return r;
    }

    private static void global(ByteBuffer p, String module, String name) {
        TorchTestFiles.global(p, module, name);
    }

    private static void unicode(ByteBuffer p, String s) {
        TorchTestFiles.unicode(p, s);
    }

    private static void long1(ByteBuffer p, long v) {
        TorchTestFiles.long1(p, v);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
