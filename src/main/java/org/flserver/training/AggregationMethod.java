package org.flserver.training;

/** The seed's AggregationMethod choices; value and label are the same words. */
public enum AggregationMethod implements Choice {
    FED_AVG("FedAvg", "FedAvg"),
    FED_DC("FedDC", "FedDC"),
    FED_PROX("FedProx", "FedProx");

    private final String value;
    private final String label;

    AggregationMethod(String value, String label) {
        this.value = value;
        this.label = label;
    }

    @Override
    public String value() {
        return value;
    }

    @Override
    public String label() {
        return label;
    }

    /** The accepted API values, in the order error messages list them. */
    public static String[] valuesAsText() {
        return Choice.values(AggregationMethod.class);
    }

    public static AggregationMethod fromValue(String value) {
        return Choice.fromValue(AggregationMethod.class, value);
    }
}
