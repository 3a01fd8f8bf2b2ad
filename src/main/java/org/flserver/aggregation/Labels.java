package org.flserver.aggregation;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The spelling of option enums in training options and on the command line: the constant in lower case. */
final class Labels {

    private Labels() {
    }

    static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /**
     * The constant of {@code type} spelt {@code label}.
     *
     * @throws IllegalArgumentException {@code unknown <what> "<label>": expected a, b or c}
     */
    static <E extends Enum<E>> E of(Class<E> type, String label, String what) {
        E[] all = type.getEnumConstants();
        for (E e : all) {
            if (label(e).equals(label)) {
                return e;
            }
        }
        String names = Arrays.stream(all).map(Labels::label).collect(Collectors.joining(", "));
        int last = names.lastIndexOf(", ");
        throw new IllegalArgumentException("unknown " + what + " \"" + label + "\": expected "
                + names.substring(0, last) + " or " + names.substring(last + 2));
    }
}
