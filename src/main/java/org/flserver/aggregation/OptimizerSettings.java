package org.flserver.aggregation;

/**
 * A server-side optimizer (the training option {@code options.server_optimizer}; Reddi et al.,
 * "Adaptive Federated Optimization", ICLR 2021), which turns the round's aggregate into the next
 * global model through the pseudo-gradient Δ = aggregate − global (docs/design.md §4.4):
 *
 * <pre>
 * sgd       x ← x + lr·Δ
 * momentum  m ← beta1·m + Δ;                                  x ← x + lr·m
 * adam      m ← beta1·m + (1 − beta1)·Δ;  v ← beta2·v + (1 − beta2)·Δ²;              x ← x + lr·m / (√v + tau)
 * yogi      m as adam;                    v ← v − (1 − beta2)·Δ²·sign(v − Δ²);        x as adam
 * adagrad   m as adam;                    v ← v + Δ²;                                  x as adam
 * </pre>
 * m and v start at 0 (as in Flower's FedAdam/FedYogi/FedAdagrad; no bias correction, as in the
 * paper). Defaults are Flower's: lr 1 (sgd, momentum; momentum beta1 0.9), 0.1 (adam, adagrad),
 * 0.01 (yogi); beta1 0.9; beta2 0.99; tau 1e-9 (adam, adagrad), 1e-3 (yogi).
 */
public record OptimizerSettings(Name name, double lr, double beta1, double beta2, double tau) {

    public enum Name {
        SGD(0), MOMENTUM(1), ADAM(2), YOGI(2), ADAGRAD(2);

        /** How many state vectors (m, v) the optimizer keeps per coordinate. */
        final int vectors;

        Name(int vectors) {
            this.vectors = vectors;
        }

        /** The spelling in options and on the command line: the constant in lower case. */
        public String label() {
            return Labels.label(this);
        }

        /** The constant spelt {@code label}, or an IllegalArgumentException listing the valid ones. */
        public static Name of(String label) {
            return Labels.of(Name.class, label, "server optimizer");
        }
    }

    /** @throws IllegalArgumentException with a message fit for a 400's {@code detail} */
    public OptimizerSettings {
        if (name == null) {
            throw new IllegalArgumentException("server_optimizer.name missing");
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("server_optimizer.lr must be a positive number, got " + lr);
        }
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw new IllegalArgumentException("server_optimizer.beta1 must be >= 0 and < 1, got " + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("server_optimizer.beta2 must be >= 0 and < 1, got " + beta2);
        }
        if (!(tau > 0) || Double.isInfinite(tau)) {
            throw new IllegalArgumentException("server_optimizer.tau must be a positive number, got " + tau);
        }
    }

    /** The settings for {@code name} with Flower's defaults where a value is null. */
    public static OptimizerSettings of(String name, Double lr, Double beta1, Double beta2, Double tau) {
        Name n = Name.of(name);
        double dlr = switch (n) {
            case SGD, MOMENTUM -> 1.0;
            case ADAM, ADAGRAD -> 0.1;
            case YOGI -> 0.01;
        };
        return new OptimizerSettings(n, lr != null ? lr : dlr, beta1 != null ? beta1 : 0.9,
                beta2 != null ? beta2 : 0.99, tau != null ? tau : n == Name.YOGI ? 1e-3 : 1e-9);
    }
}
