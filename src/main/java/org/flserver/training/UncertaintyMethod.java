package org.flserver.training;

/** The seed's UncertaintyMethod choices: stored as the upper-case value, shown with the label. */
public enum UncertaintyMethod {
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

    public String value() {
        return value;
    }

    public String label() {
        return label;
    }

    public static String[] valuesAsText() {
        UncertaintyMethod[] all = values();
        String[] out = new String[all.length];
        for (int i = 0; i < all.length; i++) {
            out[i] = all[i].value;
        }
        return out;
    }

    public static UncertaintyMethod fromValue(String value) {
        for (UncertaintyMethod m : values()) {
            if (m.value.equals(value)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown uncertainty method " + value);
    }
}
