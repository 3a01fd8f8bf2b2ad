package org.flserver.aggregation;

/**
 * The privacy spent by DP-FedAvg: Rényi differential privacy of the (sampled) Gaussian mechanism,
 * composed over rounds and converted to (ε, δ) (docs/design.md §4.3).
 *
 * <ul>
 *   <li>Without sampling (q = 1), the Gaussian mechanism with noise multiplier z has RDP
 *       ε(α) = α / (2z²) at every order α (Mironov 2017, Prop. 7).</li>
 *   <li>With Poisson sampling at rate q, at integer orders α ≥ 2 (Mironov, Talwar, Zhang 2019,
 *       §3.3, the expression TensorFlow Privacy's {@code _compute_log_a_int} evaluates):
 *       ε(α) = log A_α / (α − 1), A_α = Σ_{i=0..α} C(α, i) (1 − q)^(α−i) q^i exp((i² − i) / (2z²)),
 *       summed in log space.</li>
 *   <li>k rounds compose additively: k · ε(α) (Mironov 2017, Prop. 1).</li>
 *   <li>Conversion: ε = min over α of k·ε(α) + log(1/δ) / (α − 1) (Mironov 2017, Prop. 3), over the
 *       integer orders 2..256.</li>
 * </ul>
 * Sampling of clients by the server at {@code clients_per_round / participants} is treated as
 * Poisson sampling at that rate, as is customary (it is not exactly that: a fixed-size sample).
 */
public final class RdpAccountant {

    /** The orders tried: 2 .. MAX_ORDER. */
    public static final int MAX_ORDER = 256;

    private RdpAccountant() {
    }

    /** ε and the order that gave it. */
    public record Epsilon(double epsilon, int order) {
    }

    /**
     * @param q      sampling rate, 0 &lt; q ≤ 1
     * @param z      noise multiplier, &gt; 0 (with z = 0 there is no privacy: ε = +∞)
     * @param rounds rounds composed, ≥ 0
     * @param delta  0 &lt; δ &lt; 1
     */
    public static Epsilon epsilon(double q, double z, long rounds, double delta) {
        if (!(q > 0 && q <= 1) || !(z >= 0) || rounds < 0 || !(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("need 0 < q <= 1, z >= 0, rounds >= 0, 0 < delta < 1");
        }
        if (rounds == 0) {
            return new Epsilon(0, 0);
        }
        if (z == 0) {
            return new Epsilon(Double.POSITIVE_INFINITY, 0);
        }
        double best = Double.POSITIVE_INFINITY;
        int bestOrder = 0;
        for (int a = 2; a <= MAX_ORDER; a++) {
            double eps = rounds * rdp(q, z, a) + Math.log(1 / delta) / (a - 1);
            if (eps < best) {
                best = eps;
                bestOrder = a;
            }
        }
        return new Epsilon(best, bestOrder);
    }

    /** RDP of one round at integer order α ≥ 2. */
    public static double rdp(double q, double z, int alpha) {
        if (q == 1) {
            return alpha / (2 * z * z);
        }
        double logA = Double.NEGATIVE_INFINITY;
        double logQ = Math.log(q);
        double log1mQ = Math.log1p(-q);
        for (int i = 0; i <= alpha; i++) {
            double term = logBinomial(alpha, i) + i * logQ + (alpha - i) * log1mQ + (i * (double) i - i) / (2 * z * z);
            logA = logAdd(logA, term);
        }
        return logA / (alpha - 1);
    }

    private static double logAdd(double a, double b) {
        if (a == Double.NEGATIVE_INFINITY) {
            return b;
        }
        double hi = Math.max(a, b);
        return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
    }

    private static double logBinomial(int n, int k) {
        double s = 0;
        for (int i = 1; i <= k; i++) {
            s += Math.log(n - k + i) - Math.log(i);
        }
        return s;
    }
}
