package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Integer storages (int64, int32, int16, int8, uint8): exact {@code trunc(Σ w_i x_i / W)} in
 * {@code long} when every weight is an integer, redone with {@link BigInteger} for a block whose
 * sums overflow; with fractional weights the same in double precision.
 */
final class IntegerFold extends FoldKernel {

    private final double[] acc;
    private final long[] accL;
    private final long[] lv;
    private final int[] iv;
    private final short[] sh;
    private final byte[] bv;

    IntegerFold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite) {
        super(plan, slices, rewrite);
        acc = new double[block];
        accL = new long[block];
        lv = new long[block];
        iv = new int[block];
        sh = new short[block];
        bv = new byte[block];
    }

    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        DType t = FedAvgPlan.componentType(target.dtype());
        boolean exact = plan.exactIntegers;
        boolean overflow = false;
        for (int c = 0; c < plan.files.size(); c++) {
            ByteBuffer in = slices.read(c, s, start, n, t.size());
            boolean first = c == 0;
            if (exact && !overflow) {
                overflow = !accumulateExact(in, t, n, plan.intWeights[c], first);
            } else if (!exact) {
                accumulateInexact(in, t, n, plan.weights[c], first);
            }
        }
        if (overflow) {
            recomputeWithBigIntegers(s, start, n, t);
        }
        out.clear().order(target.byteOrder());
        if (exact && !overflow) {
            for (int j = 0; j < n; j++) {
                lv[j] = accL[j] / plan.intTotal; // Java long division truncates toward zero
            }
        } else if (!exact) {
            for (int j = 0; j < n; j++) {
                lv[j] = (long) (acc[j] / plan.total);
            }
        } // else lv was filled by the BigInteger path
        store(t, n);
        return writeBlock(target, start * t.size());
    }

    /** Loads n integers of type t from in into lv. */
    private void load(ByteBuffer in, DType t, int n) {
        switch (t) {
            case INT64 -> in.asLongBuffer().get(lv, 0, n);
            case INT32 -> {
                in.asIntBuffer().get(iv, 0, n);
                for (int j = 0; j < n; j++) {
                    lv[j] = iv[j];
                }
            }
            case INT16 -> {
                in.asShortBuffer().get(sh, 0, n);
                for (int j = 0; j < n; j++) {
                    lv[j] = sh[j];
                }
            }
            case INT8 -> {
                in.get(bv, 0, n);
                for (int j = 0; j < n; j++) {
                    lv[j] = bv[j];
                }
            }
            default -> { // UINT8
                in.get(bv, 0, n);
                for (int j = 0; j < n; j++) {
                    lv[j] = bv[j] & 0xFF;
                }
            }
        }
    }

    /** Exact Σ w·x in long; false on overflow (the block is then redone with BigInteger). */
    private boolean accumulateExact(ByteBuffer in, DType t, int n, long w, boolean first) {
        load(in, t, n);
        try {
            for (int j = 0; j < n; j++) {
                accL[j] = Math.addExact(first ? 0 : accL[j], Math.multiplyExact(lv[j], w));
            }
            return true;
        } catch (ArithmeticException e) {
            return false;
        }
    }

    private void accumulateInexact(ByteBuffer in, DType t, int n, double w, boolean first) {
        load(in, t, n);
        for (int j = 0; j < n; j++) {
            acc[j] = (first ? 0.0 : acc[j]) + lv[j] * w;
        }
    }

    private void recomputeWithBigIntegers(int s, long start, int n, DType t) throws IOException {
        BigInteger[] sum = new BigInteger[n];
        Arrays.fill(sum, BigInteger.ZERO);
        for (int c = 0; c < plan.files.size(); c++) {
            load(slices.read(c, s, start, n, t.size()), t, n);
            BigInteger w = BigInteger.valueOf(plan.intWeights[c]);
            for (int j = 0; j < n; j++) {
                sum[j] = sum[j].add(BigInteger.valueOf(lv[j]).multiply(w));
            }
        }
        for (int j = 0; j < n; j++) {
            lv[j] = sum[j].divide(plan.bigTotal).longValue(); // BigInteger division truncates toward zero
        }
    }

    private void store(DType t, int n) {
        switch (t) {
            case INT64 -> out.asLongBuffer().put(lv, 0, n);
            case INT32 -> {
                for (int j = 0; j < n; j++) {
                    iv[j] = (int) lv[j];
                }
                out.asIntBuffer().put(iv, 0, n);
            }
            case INT16 -> {
                for (int j = 0; j < n; j++) {
                    sh[j] = (short) lv[j];
                }
                out.asShortBuffer().put(sh, 0, n);
            }
            default -> { // INT8, UINT8
                for (int j = 0; j < n; j++) {
                    bv[j] = (byte) lv[j];
                }
                out.put(bv, 0, n);
                return;
            }
        }
        out.position(n * t.size());
    }
}
