package org.flserver.training;

/** The seed's AggregationMethod choices; value and label are the same words. */
public enum AggregationMethod {
    FED_AVG("FedAvg", "FedAvg"),
    FED_DC("FedDC", "FedDC"),
    FED_PROX("FedProx", "FedProx");

    private final String value;
    private final String label;

    AggregationMethod(String value, String label) {
        this.value = value;
        this.label = label;
    }

    public String value() {
        return value;
    }

    public String label() {
        return label;
    }

    /** The accepted API values, in the order error messages list them. */
    public static String[] valuesAsText() {
        AggregationMethod[] all = values();
        String[] out = new String[all.length];
        for (int i = 0; i < all.length; i++) {
            out[i] = all[i].value;
        }
        return out;
    }

    public static AggregationMethod fromValue(String value) {
        for (AggregationMethod m : values()) {
            if (m.value.equals(value)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown aggregation method " + value);
    }
}
