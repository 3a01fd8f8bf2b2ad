package org.flserver.training;

import jakarta.json.JsonNumber;
import jakarta.json.JsonValue;

/**
 * The checks of single values in a training's {@code options} that the round options, the
 * aggregation options and {@code daisy_chain_period} share; each caller words its own refusal.
 */
final class OptionValues {

    private OptionValues() {
    }

    /** Whether a key is left out: missing or JSON null. */
    static boolean absent(JsonValue v) {
        return v == null || v.getValueType() == JsonValue.ValueType.NULL;
    }

    /** Whether v is an integral JSON number from {@code min} (≥ 0) up to {@link Integer#MAX_VALUE}. */
    static boolean isIntAtLeast(JsonValue v, int min) {
        return v instanceof JsonNumber n && n.isIntegral() && n.bigIntegerValue().signum() >= 0
                && n.bigIntegerValue().bitLength() <= 31 && n.intValue() >= min;
    }
}
