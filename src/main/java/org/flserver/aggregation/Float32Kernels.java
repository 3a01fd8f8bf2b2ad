package org.flserver.aggregation;

import java.nio.ByteBuffer;

/**
 * The inner loops of {@link StreamingFedAvg} for float32 storages, kept as small static methods so
 * that the JIT compiles each as a tight loop. The client values are read straight from little-endian
 * byte buffers (file mappings or read buffers) at byte offset {@code o}: on JDK 17 the float-to-double
 * conversion keeps these loops scalar whether they read arrays or buffers, so a copy into a
 * {@code float[]} first would only add memory traffic.
 *
 * <p>Every loop performs, per element and in client order, {@code acc = acc + (double) x_i * w_i}
 * (starting from {@code 0.0 + ...} for the first client): folding several clients into one pass only
 * saves loads and stores of the accumulator, it never reassociates the additions, so the results
 * are bit-identical to one pass per client.
 */
final class Float32Kernels {

    private Float32Kernels() {
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

    static void first1(double[] a, ByteBuffer x, int o, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] = 0.0 + x.getFloat(o + (j << 2)) * w;
        }
    }

    static void add1(double[] a, ByteBuffer x, int o, double w, int n) {
        for (int j = 0; j < n; j++) {
            a[j] += x.getFloat(o + (j << 2)) * w;
        }
    }

    static void add2(double[] a, ByteBuffer x0, double w0, ByteBuffer x1, double w1, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (a[j] + x0.getFloat(b) * w0) + x1.getFloat(b) * w1;
        }
    }

    static void first4(double[] a, ByteBuffer x0, double w0, ByteBuffer x1, double w1,
                       ByteBuffer x2, double w2, ByteBuffer x3, double w3, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (((0.0 + x0.getFloat(b) * w0) + x1.getFloat(b) * w1) + x2.getFloat(b) * w2) + x3.getFloat(b) * w3;
        }
    }

    static void add4(double[] a, ByteBuffer x0, double w0, ByteBuffer x1, double w1,
                     ByteBuffer x2, double w2, ByteBuffer x3, double w3, int o, int n) {
        for (int j = 0; j < n; j++) {
            int b = o + (j << 2);
            a[j] = (((a[j] + x0.getFloat(b) * w0) + x1.getFloat(b) * w1) + x2.getFloat(b) * w2) + x3.getFloat(b) * w3;
        }
    }
}
