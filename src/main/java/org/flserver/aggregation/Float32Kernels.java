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

    /**
     * Whether {@link StreamingFedAvg} folds float32 blocks with {@link VectorFloat32Kernels}: true
     * when the JVM runs with {@code --add-modules=jdk.incubator.vector}, the machine has SIMD
     * registers of at least 128 bits, and the vector loops reproduce the scalar loops' bits on a
     * probe with ordinary, signed-zero, subnormal, infinite and NaN values. The system property
     * {@code org.flserver.aggregation.vector=false} turns them off (to compare both).
     */
    static final boolean VECTOR = Boolean.parseBoolean(System.getProperty("org.flserver.aggregation.vector", "true"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && vectorLoopsAgree();

    private Float32Kernels() {
    }

    /** What folds float32 storages here, for logs and benchmark output. */
    static String description() {
        return VECTOR ? "Vector API (jdk.incubator.vector)" : "scalar loops";
    }

    /**
     * Runs the vector loops on a probe and compares them bit for bit with the scalar rule; false
     * when they differ or cannot be linked (module not readable by this class loader, API changed).
     */
    private static boolean vectorLoopsAgree() {
        try {
            if (!VectorFloat32Kernels.supported()) {
                return false;
            }
            int n = 67; // several vectors of any width and a scalar tail
            float[][] x = new float[4][n];
            float[] special = {0.0f, -0.0f, Float.MIN_VALUE, -Float.MIN_NORMAL, Float.MAX_VALUE,
                    Float.NEGATIVE_INFINITY, Float.NaN, 1.0f / 3, -7.25e-20f, 6.5e30f};
            long seed = 0x5DEECE66DL;
            for (int c = 0; c < 4; c++) {
                for (int j = 0; j < n; j++) {
                    seed = seed * 6364136223846793005L + 1442695040888963407L;
                    x[c][j] = (j + c) % 11 == 0 ? special[(j / 11 + c) % special.length]
                            : Float.intBitsToFloat((int) (seed >>> 32) & 0xBFFFFFFF); // finite, |x| < 2, subnormals too
                }
            }
            double[] w = {3, 0.1, 7e5, 1e-3};
            double[] vector = new double[n];
            double[] scalar = new double[n];
            VectorFloat32Kernels.fold4(vector, true, x[0], w[0], x[1], w[1], x[2], w[2], x[3], w[3], n);
            VectorFloat32Kernels.fold1(vector, false, x[2], w[1], n);
            VectorFloat32Kernels.fold4(vector, false, x[3], w[2], x[0], w[3], x[1], w[0], x[2], w[1], n);
            for (int j = 0; j < n; j++) {
                double a = (((0.0 + x[0][j] * w[0]) + x[1][j] * w[1]) + x[2][j] * w[2]) + x[3][j] * w[3];
                a += x[2][j] * w[1];
                scalar[j] = (((a + x[3][j] * w[2]) + x[0][j] * w[3]) + x[1][j] * w[0]) + x[2][j] * w[1];
            }
            float[] vf = new float[n];
            VectorFloat32Kernels.finish(vf, vector, 7.0, n);
            for (int j = 0; j < n; j++) {
                if (Double.doubleToRawLongBits(vector[j]) != Double.doubleToRawLongBits(scalar[j])
                        || Float.floatToRawIntBits(vf[j]) != Float.floatToRawIntBits((float) (scalar[j] / 7.0))) {
                    return false;
                }
            }
            return true;
        } catch (LinkageError | RuntimeException e) {
            return false;
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
