package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.HalfFloats;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Float storages off the float32 fast path (float64, float16, bfloat16, complex128's components,
 * and float32 in a big-endian file): {@code acc += (double) x_i * w_i} from {@code acc = 0.0} in
 * client order, then {@code acc / W} rounded once to the dtype (float16 and bfloat16 through
 * float32, to nearest even).
 */
final class FloatFold extends FoldKernel {

    private final double[] acc;
    private final float[] f;
    private final double[] d;
    private final short[] sh;

    FloatFold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite) {
        super(plan, slices, rewrite);
        acc = new double[block];
        f = new float[block];
        d = new double[block];
        sh = new short[block];
    }

    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        DType t = FedAvgPlan.componentType(target.dtype());
        for (int c = 0; c < plan.files.size(); c++) {
            accumulate(slices.read(c, s, start, n, t.size()), t, n, plan.weights[c], c == 0);
        }
        out.clear().order(target.byteOrder());
        store(t, n);
        return writeBlock(target, start * t.size());
    }

    private void accumulate(ByteBuffer in, DType t, int n, double w, boolean first) {
        double[] a = acc;
        switch (t) {
            case FLOAT32 -> {
                in.asFloatBuffer().get(f, 0, n);
                float[] x = f;
                if (first) {
                    for (int j = 0; j < n; j++) {
                        a[j] = 0.0 + x[j] * w;
                    }
                } else {
                    for (int j = 0; j < n; j++) {
                        a[j] += x[j] * w;
                    }
                }
            }
            case FLOAT64 -> {
                in.asDoubleBuffer().get(d, 0, n);
                double[] x = d;
                for (int j = 0; j < n; j++) {
                    a[j] = (first ? 0.0 : a[j]) + x[j] * w;
                }
            }
            case FLOAT16 -> {
                in.asShortBuffer().get(sh, 0, n);
                for (int j = 0; j < n; j++) {
                    a[j] = (first ? 0.0 : a[j]) + HalfFloats.halfToFloat(sh[j]) * w;
                }
            }
            default -> { // BFLOAT16
                in.asShortBuffer().get(sh, 0, n);
                for (int j = 0; j < n; j++) {
                    a[j] = (first ? 0.0 : a[j]) + HalfFloats.bfloat16ToFloat(sh[j]) * w;
                }
            }
        }
    }

    private void store(DType t, int n) {
        double[] a = acc;
        double total = plan.total;
        switch (t) {
            case FLOAT32 -> {
                for (int j = 0; j < n; j++) {
                    f[j] = (float) (a[j] / total);
                }
                out.asFloatBuffer().put(f, 0, n);
            }
            case FLOAT64 -> {
                for (int j = 0; j < n; j++) {
                    d[j] = a[j] / total;
                }
                out.asDoubleBuffer().put(d, 0, n);
            }
            case FLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    sh[j] = HalfFloats.floatToHalf((float) (a[j] / total));
                }
                out.asShortBuffer().put(sh, 0, n);
            }
            default -> {
                for (int j = 0; j < n; j++) {
                    sh[j] = HalfFloats.floatToBfloat16((float) (a[j] / total));
                }
                out.asShortBuffer().put(sh, 0, n);
            }
        }
        out.position(n * t.size());
    }
}
