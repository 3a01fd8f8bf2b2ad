package org.flserver.aggregation;

/**
 * The inner loops of {@link StreamingFedAvg} for float32 storages, kept as small static methods over
 * primitive arrays so that the JIT compiles each as a tight loop.
 *
 * <p>Every loop performs, per element and in client order, {@code acc = acc + (double) x_i * w_i}
 * (starting from {@code 0.0 + ...} for the first client): folding several clients into one pass only
 * saves loads and stores of the accumulator, it never reassociates the additions, so the results
 * are bit-identical to one pass per client.
 */
final class Float32Kernels {

    private Float32Kernels() {
    }

    static void first1(double[] a, float[] x, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = 0.0 + x[j] * w;
        }
    }

    static void add1(double[] a, float[] x, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] += x[j] * w;
        }
    }

    static void add2(double[] a, float[] x0, double w0, float[] x1, double w1, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = (a[j] + x0[j] * w0) + x1[j] * w1;
        }
    }

    static void first4(double[] a, float[] x0, double w0, float[] x1, double w1, float[] x2, double w2,
                       float[] x3, double w3, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = (((0.0 + x0[j] * w0) + x1[j] * w1) + x2[j] * w2) + x3[j] * w3;
        }
    }

    static void add4(double[] a, float[] x0, double w0, float[] x1, double w1, float[] x2, double w2,
                     float[] x3, double w3, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = (((a[j] + x0[j] * w0) + x1[j] * w1) + x2[j] * w2) + x3[j] * w3;
        }
    }

    /** {@code a[j] /= total} (a loop the JIT vectorises, unlike a division fused with the narrowing). */
    static void divide(double[] a, double total, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = a[j] / total;
        }
    }

    /** {@code f[j] = (float) a[j]}: round to nearest even, once. */
    static void narrow(float[] f, double[] a, int n) {
        for (int j = 0; j < n; j++) {
            f[j] = (float) a[j];
        }
    }

    // Variants reading little-endian float32 straight from (mapped) byte buffers at byte offset o.

    static void first1(double[] a, java.nio.ByteBuffer x, int o, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = 0.0 + x.getFloat(o + (j << 2)) * w;
        }
    }

    static void add1(double[] a, java.nio.ByteBuffer x, int o, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] += x.getFloat(o + (j << 2)) * w;
        }
    }

    static void add2(double[] a, java.nio.ByteBuffer x0, double w0, java.nio.ByteBuffer x1, double w1, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (a[j] + x0.getFloat(b) * w0) + x1.getFloat(b) * w1;
        }
    }

    static void first4(double[] a, java.nio.ByteBuffer x0, double w0, java.nio.ByteBuffer x1, double w1,
                       java.nio.ByteBuffer x2, double w2, java.nio.ByteBuffer x3, double w3, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (((0.0 + x0.getFloat(b) * w0) + x1.getFloat(b) * w1) + x2.getFloat(b) * w2) + x3.getFloat(b) * w3;
        }
    }

    static void add4(double[] a, java.nio.ByteBuffer x0, double w0, java.nio.ByteBuffer x1, double w1,
                     java.nio.ByteBuffer x2, double w2, java.nio.ByteBuffer x3, double w3, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (((a[j] + x0.getFloat(b) * w0) + x1.getFloat(b) * w1) + x2.getFloat(b) * w2) + x3.getFloat(b) * w3;
        }
    }
}
