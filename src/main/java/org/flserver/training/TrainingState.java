package org.flserver.training;

/** The seed's TrainingState choices: stored as the one-letter value, shown with the label. */
public enum TrainingState implements Choice {
    INITIAL("I", "Initial"),
    ONGOING("O", "Ongoing"),
    COMPLETED("C", "Completed"),
    ERROR("E", "Error"),
    SWAG_ROUND("S", "SwagRound");

    private final String value;
    private final String label;

    TrainingState(String value, String label) {
        this.value = value;
        this.label = label;
    }

    /** What the database and the API hold: {@code I}, {@code O}, {@code C}, {@code E} or {@code S}. */
    @Override
    public String value() {
        return value;
    }

    /** The words for people (admin pages). */
    @Override
    public String label() {
        return label;
    }

    public static TrainingState fromValue(String value) {
        return Choice.fromValue(TrainingState.class, value);
    }
}
