package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.WeightFileException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * One thread's way into the client files of a {@link FedAvgPlan}: a slice of one client's storage
 * read with a positional read into a reused buffer, up to four clients' float32 slices at once
 * for the float32 fold, or every client's window of a storage mapped (and released again at once
 * with {@link Unmapper}). Whoever reads a slice gets a buffer that is valid until its next read.
 */
final class ClientSlices {

    private final FedAvgPlan plan;
    /** The one slice of {@link #read}; also the first of the four float32 slices. */
    private final ByteBuffer in;
    /** Up to four clients' slices for the float32 fold with positional reads. */
    private final ByteBuffer[] ins;
    /**
     * Read-only views of {@link #ins} for the kernels: read-only like the mappings, so the kernels
     * only ever see one buffer class (a second one makes their call sites polymorphic and the loops
     * markedly slower).
     */
    private final ByteBuffer[] inViews;
    private final MappedByteBuffer[] maps;

    ClientSlices(FedAvgPlan plan) {
        this.plan = plan;
        int block = plan.block;
        in = ByteBuffer.allocateDirect(block * 8);
        ins = new ByteBuffer[] {in, ByteBuffer.allocateDirect(block * 4), ByteBuffer.allocateDirect(block * 4),
                ByteBuffer.allocateDirect(block * 4)};
        inViews = new ByteBuffer[ins.length];
        for (int i = 0; i < ins.length; i++) {
            inViews[i] = ins[i].asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        maps = new MappedByteBuffer[plan.window > 0 ? plan.files.size() : 0];
    }

    /**
     * Client c's components [start, start + n) of storage s, {@code size} bytes each, in the byte
     * order of that client's storage.
     */
    ByteBuffer read(int c, int s, long start, int n, int size) throws IOException {
        StorageInfo src = plan.clientStorages[s][c];
        read(in, plan.channels[c], src.offset() + start * size, n * size, src.byteOrder());
        return in;
    }

    /**
     * The little-endian float32 elements [start, start + n) of storage s of clients c .. c + k - 1
     * (k &lt;= 4), as the first k buffers of the returned array, each starting at position 0.
     */
    ByteBuffer[] readFloat32(int s, int c, int k, long start, int n) throws IOException {
        for (int i = 0; i < k; i++) {
            StorageInfo src = plan.clientStorages[s][c + i];
            read(ins[i], plan.channels[c + i], src.offset() + start * 4, n * 4, ByteOrder.LITTLE_ENDIAN);
        }
        return inViews;
    }

    /**
     * Maps the float32 elements [start, start + count) of storage s of every client, one buffer per
     * client in client order, little-endian. {@link #unmap()} must follow, also after a failure.
     */
    ByteBuffer[] map(int s, long start, int count) throws IOException {
        for (int c = 0; c < plan.files.size(); c++) {
            StorageInfo src = plan.clientStorages[s][c];
            maps[c] = plan.channels[c].map(FileChannel.MapMode.READ_ONLY, src.offset() + start * 4, (long) count * 4);
            maps[c].order(ByteOrder.LITTLE_ENDIAN);
        }
        return maps;
    }

    /** Releases what {@link #map} mapped (as far as it got). */
    void unmap() {
        for (int c = 0; c < maps.length; c++) {
            MappedByteBuffer m = maps[c];
            maps[c] = null;
            if (m != null) {
                Unmapper.unmap(m);
            }
        }
    }

    private static void read(ByteBuffer buf, FileChannel ch, long pos, int len, ByteOrder order) throws IOException {
        buf.clear().limit(len);
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) {
                throw new WeightFileException("a client file became shorter while it was read");
            }
        }
        buf.flip().order(order);
    }
}
