package org.flserver.metric;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.flserver.platform.ApiException;

/**
 * One reported metric before it is stored: its key and either a number or bytes (api.md §5.6).
 * The reference decides with Python's {@code float()}: whatever it parses is a number, anything
 * else is kept as UTF-8 bytes. {@link #parse} reproduces {@code float()} exactly, which is
 * <em>not</em> {@link Double#parseDouble}: Python also takes {@code nan}, {@code inf},
 * {@code infinity} in any case, digit groups with {@code _} and surrounding whitespace, and refuses
 * Java's {@code 1.5f}, {@code 1d} and hexadecimal forms.
 */
public record MetricValue(String key, Double valueFloat, byte[] valueBinary) {

    /** The {@code metric_key} column. */
    public static final int MAX_KEY_LENGTH = 32;

    private static final String DIGITS = "[0-9](?:_?[0-9])*";
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(?:" + DIGITS + "(?:\\." + "(?:" + DIGITS + ")?)?"
            + "|\\." + DIGITS + ")(?:[eE][+-]?" + DIGITS + ")?");
    private static final Pattern SPECIAL = Pattern.compile("[+-]?(?:nan|inf|infinity)", Pattern.CASE_INSENSITIVE);

    /**
     * Pairs {@code metric_names} with {@code metric_values}, which the caller has checked to be
     * present and of equal length. More than {@code maxRows} pairs → 413, before anything is
     * parsed or stored; a key longer than the column → 400 (the reference: 500).
     */
    public static List<MetricValue> parse(List<String> names, List<String> values, int maxRows) {
        if (names.size() > maxRows) {
            throw ApiException.detail(413, "Too many metrics: at most " + maxRows + " per request.");
        }
        List<MetricValue> out = new ArrayList<>(names.size());
        for (int i = 0; i < names.size(); i++) {
            String key = names.get(i);
            if (key.length() > MAX_KEY_LENGTH) {
                throw ApiException.badRequest("Metric name '" + key.substring(0, MAX_KEY_LENGTH)
                        + "…' is too long: at most " + MAX_KEY_LENGTH + " characters.");
            }
            String value = values.get(i);
            Double number = pythonFloat(value);
            out.add(new MetricValue(key, number, number == null ? value.getBytes(StandardCharsets.UTF_8) : null));
        }
        return out;
    }

    /** Python's {@code float(text)} for a str argument, or null where it raises ValueError. */
    static Double pythonFloat(String text) {
        String s = text.strip();
        if (SPECIAL.matcher(s).matches()) {
            boolean negative = s.startsWith("-");
            String word = s.replaceFirst("^[+-]", "").toLowerCase(java.util.Locale.ROOT);
            if (word.equals("nan")) {
                return Double.NaN;
            }
            return negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        if (!DECIMAL.matcher(s).matches()) {
            return null;
        }
        // the pattern admits exactly the forms both languages read the same way once "_" is gone
        return Double.parseDouble(s.replace("_", ""));
    }
}
