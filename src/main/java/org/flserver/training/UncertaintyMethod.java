package org.flserver.training;

/** The seed's UncertaintyMethod choices: stored as the upper-case value, shown with the label. */
public enum UncertaintyMethod implements Choice {
    NONE("NONE", "None"),
    ENSEMBLE("ENSEMBLE", "Ensemble"),
    MC_DROPOUT("MC_DROPOUT", "MC Dropout"),
    SWAG("SWAG", "SWAG");

    private final String value;
    private final String label;

    UncertaintyMethod(String value, String label) {
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
        return Choice.values(UncertaintyMethod.class);
    }

    public static UncertaintyMethod fromValue(String value) {
        return Choice.fromValue(UncertaintyMethod.class, value);
    }
}
