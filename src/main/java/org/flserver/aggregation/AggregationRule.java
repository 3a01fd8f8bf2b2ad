package org.flserver.aggregation;

/**
 * Which rule combines the clients' updates of a round, with its parameters: the training option
 * {@code options.aggregation} and {@code TensorTool aggregate}'s flags (docs/design.md §4.2).
 *
 * <ul>
 *   <li>{@code mean}: today's weighted FedAvg ({@link StreamingFedAvg});</li>
 *   <li>{@code median}: per coordinate, unweighted; the mean of the two middle values for even N;</li>
 *   <li>{@code trimmed_mean}: per coordinate, unweighted, the ⌊βN⌋ lowest and the ⌊βN⌋ highest
 *       values dropped, 0 ≤ β &lt; 0.5;</li>
 *   <li>{@code krum}: the one update with the lowest score, the sum of squared distances to its
 *       N − f − 2 nearest others; needs N &gt; 2f + 2;</li>
 *   <li>{@code multi_krum}: the sample-weighted mean of the m best-scored updates, 1 ≤ m ≤ N − f
 *       (default N − f).</li>
 * </ul>
 *
 * @param name         the rule
 * @param trimFraction β of the trimmed mean (0 for the other rules)
 * @param byzantine    f of Krum and Multi-Krum (0 for the other rules)
 * @param select       m of Multi-Krum; 0 means N − f (always 1 for Krum, 0 for the other rules)
 */
public record AggregationRule(Name name, double trimFraction, int byzantine, int select) {

    /** The rules, with their spelling in options and on the command line. */
    public enum Name {
        MEAN, MEDIAN, TRIMMED_MEAN, KRUM, MULTI_KRUM;

        /** {@code mean}, {@code median}, {@code trimmed_mean}, {@code krum}, {@code multi_krum}. */
        public String label() {
            return Labels.label(this);
        }

        /** The constant spelt {@code label}, or an IllegalArgumentException listing the valid ones. */
        public static Name of(String label) {
            return Labels.of(Name.class, label, "aggregation rule");
        }
    }

    /**
     * Checks what can be checked without knowing N (call it when a training is created).
     *
     * @throws IllegalArgumentException with a message fit for a 400's {@code detail}
     */
    public AggregationRule {
        if (name == null) {
            throw new IllegalArgumentException("aggregation rule missing");
        }
        if (!(trimFraction >= 0 && trimFraction < 0.5)) {
            throw new IllegalArgumentException("trim_fraction must be >= 0 and < 0.5, got " + trimFraction);
        }
        if (byzantine < 0) {
            throw new IllegalArgumentException("byzantine must be >= 0, got " + byzantine);
        }
        if (select < 0) {
            throw new IllegalArgumentException("select must be >= 1, got " + select);
        }
        if (trimFraction != 0 && name != Name.TRIMMED_MEAN) {
            throw new IllegalArgumentException("trim_fraction applies to trimmed_mean only");
        }
        if (byzantine != 0 && name != Name.KRUM && name != Name.MULTI_KRUM) {
            throw new IllegalArgumentException("byzantine applies to krum and multi_krum only");
        }
        if (name == Name.KRUM && select > 1) {
            throw new IllegalArgumentException("krum selects one update; use multi_krum to select " + select);
        }
        if (select != 0 && name != Name.KRUM && name != Name.MULTI_KRUM) {
            throw new IllegalArgumentException("select applies to multi_krum only");
        }
    }

    public static AggregationRule mean() {
        return new AggregationRule(Name.MEAN, 0, 0, 0);
    }

    public static AggregationRule median() {
        return new AggregationRule(Name.MEDIAN, 0, 0, 0);
    }

    public static AggregationRule trimmedMean(double beta) {
        return new AggregationRule(Name.TRIMMED_MEAN, beta, 0, 0);
    }

    public static AggregationRule krum(int f) {
        return new AggregationRule(Name.KRUM, 0, f, 1);
    }

    /** Multi-Krum; {@code m == 0} selects N − f. */
    public static AggregationRule multiKrum(int f, int m) {
        return new AggregationRule(Name.MULTI_KRUM, 0, f, m);
    }

    /** ⌊βN⌋: values dropped at each end per coordinate by the trimmed mean of N updates. */
    public int trimmedPerSide(int n) {
        return name == Name.TRIMMED_MEAN ? (int) Math.floor(trimFraction * n) : 0;
    }

    /** The number of updates Krum (1) or Multi-Krum (m, or N − f) combines, for N updates. */
    public int selected(int n) {
        return name == Name.KRUM ? 1 : select == 0 ? n - byzantine : select;
    }

    /**
     * Checks the rule against the number of updates of a round.
     *
     * @throws IllegalArgumentException with a message fit for a 400's {@code detail}
     */
    public void requireClients(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("no client files to aggregate");
        }
        if ((name == Name.KRUM || name == Name.MULTI_KRUM) && n <= 2 * byzantine + 2) {
            throw new IllegalArgumentException(name.label() + " with byzantine = " + byzantine + " needs more than "
                    + (2 * byzantine + 2) + " updates, got " + n);
        }
        if (name == Name.MULTI_KRUM && selected(n) > n - byzantine) {
            throw new IllegalArgumentException("multi_krum can select at most N - byzantine = " + (n - byzantine)
                    + " updates, got select = " + select);
        }
    }
}
