package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.HalfFloats;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One thread's view of the floating-point storages of a {@link FedAvgPlan} as doubles: every
 * client's slice of a block, converted exactly (float16, bfloat16 and float32 widen without
 * rounding) into a reused {@code double[clients][block]}, and checked on the way: a NaN or an
 * infinity in any client is refused with a {@link WeightFileException} naming the file and the
 * tensor, so it can never reach a global model (docs/design.md §4.2). Also the one place that
 * rounds a double result back to a storage's dtype, by the mean rule's rounding (once; float16 and
 * bfloat16 through float32, to nearest even).
 */
final class FloatBlocks {

    private final FedAvgPlan plan;
    private final ClientSlices slices;
    /** x[c][j]: client c's value j of the block last loaded. */
    final double[][] x;
    private final float[] f;
    private final short[] sh;

    FloatBlocks(FedAvgPlan plan, ClientSlices slices) {
        this.plan = plan;
        this.slices = slices;
        x = new double[plan.files.size()][plan.block];
        f = new float[plan.block];
        sh = new short[plan.block];
    }

    /** Loads components [start, start + n) of floating storage s of every client into {@link #x}. */
    double[][] load(int s, long start, int n) throws IOException {
        DType t = FedAvgPlan.componentType(plan.template.storages().get(s).dtype());
        for (int c = 0; c < x.length; c++) {
            ByteBuffer in = slices.read(c, s, start, n, t.size());
            double[] d = x[c];
            switch (t) {
                case FLOAT32 -> {
                    in.asFloatBuffer().get(f, 0, n);
                    if (RobustKernels.widen(f, d, n)) {
                        continue; // widened and found finite in one pass; else the check below names the culprit
                    }
                }
                case FLOAT64 -> in.asDoubleBuffer().get(d, 0, n);
                case FLOAT16 -> {
                    in.asShortBuffer().get(sh, 0, n);
                    for (int j = 0; j < n; j++) {
                        d[j] = HalfFloats.halfToFloat(sh[j]);
                    }
                }
                case BFLOAT16 -> {
                    in.asShortBuffer().get(sh, 0, n);
                    for (int j = 0; j < n; j++) {
                        d[j] = HalfFloats.bfloat16ToFloat(sh[j]);
                    }
                }
                default -> throw new IllegalStateException("not a floating-point storage: " + t);
            }
            // x - x is 0 for every finite x and NaN for NaN and ±Inf: one multiply-free test per element.
            double probe = 0;
            for (int j = 0; j < n; j++) {
                probe += d[j] - d[j];
            }
            if (probe != 0) { // true for NaN too
                for (int j = 0; j < n; j++) {
                    if (!Double.isFinite(d[j])) {
                        throw nonFinite(plan.files.get(c), plan.clientStorages[s][c], start + j, d[j]);
                    }
                }
            }
        }
        return x;
    }

    /** The refusal of a client file holding a NaN or an infinity at component {@code index} of storage s. */
    static NonFiniteUpdateException nonFinite(WeightFile file, StorageInfo storage, long index, double value) {
        return new NonFiniteUpdateException(file.path(), tensorOf(file, storage), index, value);
    }

    /** The tensor of {@code file} that views {@code storage} (the first one, if several share it). */
    static String tensorOf(WeightFile file, StorageInfo storage) {
        for (TensorInfo t : file.tensors()) {
            if (t.storageKey().equals(storage.key())) {
                return t.name();
            }
        }
        return "(storage " + storage.key() + ")";
    }

    /**
     * Puts {@code v[0..n)} into {@code out} as components of type t, each rounded once (float16 and
     * bfloat16 through float32, like the mean rule), and leaves out's position after them.
     */
    void store(ByteBuffer out, DType t, double[] v, int n) {
        switch (t) {
            case FLOAT32 -> {
                for (int j = 0; j < n; j++) {
                    f[j] = (float) v[j];
                }
                out.asFloatBuffer().put(f, 0, n);
            }
            case FLOAT64 -> out.asDoubleBuffer().put(v, 0, n);
            case FLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    sh[j] = HalfFloats.floatToHalf((float) v[j]);
                }
                out.asShortBuffer().put(sh, 0, n);
            }
            default -> {
                for (int j = 0; j < n; j++) {
                    sh[j] = HalfFloats.floatToBfloat16((float) v[j]);
                }
                out.asShortBuffer().put(sh, 0, n);
            }
        }
        out.position(n * t.size());
    }
}
