package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * The fold of one unit of a {@link FedAvgPlan} for one kind of storage (float32 fast path, other
 * floats, integers, bools): every client's slice of the unit is folded, in client order, into an
 * accumulator, which is divided, rounded, written into the output file and checksummed. One
 * instance per thread and kind, with its reused buffers; the rounding rules are in
 * {@link StreamingFedAvg}'s class comment.
 */
abstract class FoldKernel {

    final FedAvgPlan plan;
    final ClientSlices slices;
    final TemplateRewrite rewrite;
    final int block;
    /** The averaged block, in the output storage's byte order. */
    final ByteBuffer out;
    final CRC32 crc = new CRC32();

    FoldKernel(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite) {
        this.plan = plan;
        this.slices = slices;
        this.rewrite = rewrite;
        this.block = plan.block;
        this.out = ByteBuffer.allocateDirect(block * 8);
    }

    /** Averages components [start, start + n) of storage s (target in the template) and returns their CRC-32. */
    abstract int unit(StorageInfo target, int s, long start, int n) throws IOException;

    /** Writes the bytes put into {@link #out} at {@code byteOffset} of target and returns their CRC-32. */
    int writeBlock(StorageInfo target, long byteOffset) throws IOException {
        out.flip();
        crc.reset();
        crc.update(out.duplicate());
        rewrite.write(target, byteOffset, out);
        return (int) crc.getValue();
    }
}
