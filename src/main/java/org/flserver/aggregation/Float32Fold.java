package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The common case, little-endian float32 (or complex64) in the template and every client,
 * specialised: clients are folded four at a time into the accumulator, in client order, so that
 * each accumulator element is loaded and stored once per four clients; the arithmetic is exactly
 * that of {@link FloatFold}. The loops are {@link VectorFloat32Kernels}' where the Vector API is
 * used (each slice is then copied into a reused {@code float[]} first), else
 * {@link Float32Kernels}' scalar loops reading the buffers directly; both give the same bits.
 */
final class Float32Fold extends FoldKernel {

    private final boolean vector;
    private final double[] acc;
    private final float[] f;
    /** Each client's float32 slice as an array, for the Vector API loops (which are fastest on arrays). */
    private final float[][] arrays;

    Float32Fold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite, boolean vector) {
        super(plan, slices, rewrite);
        this.vector = vector;
        acc = new double[block];
        f = new float[block];
        arrays = vector ? new float[4][block] : null;
    }

    /** Through mapping windows when the plan has them, else with positional reads. */
    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        return plan.window > 0 ? mappedUnit(target, s, start, n) : positionalUnit(target, s, start, n);
    }

    /** A block whose client slices are read with positional reads. */
    private int positionalUnit(StorageInfo target, int s, long start, int n) throws IOException {
        crc.reset();
        int clients = plan.files.size();
        for (int c = 0; c < clients; c += 4) {
            int k = Math.min(4, clients - c);
            foldGroup(slices.readFloat32(s, c, k, start, n), 0, c, k, 0, n);
        }
        finishBlock(target, start, n);
        return (int) crc.getValue();
    }

    /**
     * A window of up to {@code plan.window} elements: every client's window is mapped, folded block
     * by block straight from the mappings (no copy by the kernel, none into arrays: this saves about
     * a third of the CPU time of positional reads), and unmapped before returning.
     */
    private int mappedUnit(StorageInfo target, int s, long start, int count) throws IOException {
        int clients = plan.files.size();
        try {
            ByteBuffer[] maps = slices.map(s, start, count);
            crc.reset();
            for (int off = 0; off < count; off += block) {
                int n = Math.min(block, count - off);
                for (int c = 0; c < clients; c += 4) {
                    foldGroup(maps, c, c, Math.min(4, clients - c), off * 4, n);
                }
                finishBlock(target, start + off, n);
            }
            return (int) crc.getValue();
        } catch (InternalError e) {
            // How the JVM reports a fault in a mapping. Store files are content-addressed and never
            // change, so this is a failed read (EIO, a network file system gone): an I/O error, which
            // the job worker retries, not a fault of the inputs (design.md §5.2).
            throw new IOException("reading a mapped client file failed: " + e.getMessage(), e);
        } finally {
            slices.unmap();
        }
    }

    /**
     * Folds clients c .. c + k - 1 (k &lt;= 4), whose little-endian floats start at byte o of
     * b[bi] .. b[bi + k - 1], into acc; c == 0 starts the accumulator.
     */
    private void foldGroup(ByteBuffer[] b, int bi, int c, int k, int o, int n) {
        double[] a = acc;
        double[] w = plan.weights;
        boolean first = c == 0;
        if (vector) {
            // One bulk copy per slice (a plain memory copy on a little-endian machine), then the loops.
            for (int i = 0; i < k; i++) {
                b[bi + i].asFloatBuffer().get(o >> 2, arrays[i], 0, n);
            }
            float[][] x = arrays;
            if (k == 4) {
                VectorFloat32Kernels.fold4(a, first, x[0], w[c], x[1], w[c + 1], x[2], w[c + 2], x[3], w[c + 3], n);
            } else {
                for (int i = 0; i < k; i++) {
                    VectorFloat32Kernels.fold1(a, first && i == 0, x[i], w[c + i], n);
                }
            }
            return;
        }
        switch (k) {
            case 4 -> {
                if (first) {
                    Float32Kernels.first4(a, b[bi], w[c], b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], b[bi + 3], w[c + 3], o, n);
                } else {
                    Float32Kernels.add4(a, b[bi], w[c], b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], b[bi + 3], w[c + 3], o, n);
                }
            }
            case 3 -> {
                if (first) {
                    Float32Kernels.first1(a, b[bi], o, w[c], n);
                } else {
                    Float32Kernels.add1(a, b[bi], o, w[c], n);
                }
                Float32Kernels.add2(a, b[bi + 1], w[c + 1], b[bi + 2], w[c + 2], o, n);
            }
            case 2 -> {
                if (first) {
                    Float32Kernels.first1(a, b[bi], o, w[c], n);
                    Float32Kernels.add1(a, b[bi + 1], o, w[c + 1], n);
                } else {
                    Float32Kernels.add2(a, b[bi], w[c], b[bi + 1], w[c + 1], o, n);
                }
            }
            default -> {
                if (first) {
                    Float32Kernels.first1(a, b[bi], o, w[c], n);
                } else {
                    Float32Kernels.add1(a, b[bi], o, w[c], n);
                }
            }
        }
    }

    /** Divides, rounds, checksums (continuing crc) and writes the block [start, start + n). */
    private void finishBlock(StorageInfo target, long start, int n) throws IOException {
        if (vector) {
            VectorFloat32Kernels.finish(f, acc, plan.total, n);
        } else {
            Float32Kernels.divide(acc, plan.total, n);
            Float32Kernels.narrow(f, acc, n);
        }
        out.clear().order(ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(f, 0, n);
        out.limit(n * 4);
        crc.update(out.duplicate());
        rewrite.write(target, start * 4, out);
    }
}
