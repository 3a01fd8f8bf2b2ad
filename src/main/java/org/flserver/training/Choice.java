package org.flserver.training;

import java.util.Arrays;

/**
 * The seed's {@code TextChoices}: each constant has the value that is stored and sent
 * ({@code "O"}, {@code "FedAvg"}, {@code "MC_DROPOUT"}) and the label people read
 * ({@code "Ongoing"}, {@code "FedAvg"}, {@code "MC Dropout"}). The look-ups are shared here.
 */
interface Choice {

    String value();

    String label();

    /** The constant with this value (exact, case-sensitive). */
    static <E extends Enum<E> & Choice> E fromValue(Class<E> type, String value) {
        for (E choice : type.getEnumConstants()) {
            if (choice.value().equals(value)) {
                return choice;
            }
        }
        throw new IllegalArgumentException("unknown " + type.getSimpleName() + " " + value);
    }

    /** Every value, in declaration order (as error messages list them). */
    static <E extends Enum<E> & Choice> String[] values(Class<E> type) {
        return Arrays.stream(type.getEnumConstants()).map(Choice::value).toArray(String[]::new);
    }
}
