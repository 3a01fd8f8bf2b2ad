package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;

/**
 * The second pass of DP-FedAvg on floating-point storages. The plan's clients are the N updates
 * followed by the global model; per component k (the running index over the template's floating
 * storages in file order) the result is
 * {@code g + (Σ_c f_c · (x_c − g)) / N + σ · noise(k)}, the sum in client order in double
 * precision, f_c the client's clipping factor, rounded once to the dtype.
 */
final class DpFold extends FoldKernel {

    private final FloatBlocks blocks;
    private final double[] factors;
    private final long[] base;
    private final double sigma;
    private final GaussianNoise noise;
    private final double[] result;

    /**
     * @param factors per update: min(1, C / ‖Δ_c‖)
     * @param base    per storage of the template: the index of its first component among all
     *                floating-point components (unused for other storages)
     */
    DpFold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite, double[] factors, long[] base,
            double sigma, GaussianNoise noise) {
        super(plan, slices, rewrite);
        this.blocks = new FloatBlocks(plan, slices);
        this.factors = factors;
        this.base = base;
        this.sigma = sigma;
        this.noise = noise;
        this.result = new double[block];
    }

    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        DType t = FedAvgPlan.componentType(target.dtype());
        double[][] x = blocks.load(s, start, n);
        int updates = factors.length;
        double[] g = x[updates];
        long k0 = base[s] + start;
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int c = 0; c < updates; c++) {
                sum += factors[c] * (x[c][j] - g[j]);
            }
            result[j] = g[j] + sum / updates + sigma * noise.noise(k0 + j);
        }
        out.clear().order(target.byteOrder());
        blocks.store(out, t, result, n);
        return writeBlock(target, start * t.size());
    }
}
