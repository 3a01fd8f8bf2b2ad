package org.flserver.platform;

import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonException;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonParser;
import jakarta.json.stream.JsonParsingException;
import java.io.InputStream;
import java.io.Reader;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Supplier;

/**
 * Parses client JSON into a JSON-P tree under limits of our own, checked while the text is read:
 * at most {@link #MAX_DEPTH} levels of arrays and objects, numbers of at most
 * {@link #MAX_NUMBER_LENGTH} characters with an exponent of at most {@link #MAX_EXPONENT} in
 * magnitude, no U+0000 in strings or keys. Every failure is a 400 {@code {"detail": "JSON parse error - ..."}}.
 *
 * <p>Why not {@code JsonReader}: its provider's own limits are implementation defaults (Parsson
 * allows 1000 levels and refuses long numbers with exceptions that are no {@code JsonException},
 * which answered 500), and a tree is built before anyone can look at it. Here the tree is built
 * from the parser's events, so a limit stops the parse at the token that crosses it. The number
 * check looks at the token's text before any {@code BigDecimal} is made of it: a short text such
 * as {@code 1e1000000000} would otherwise become a number whose {@code bigIntegerValue()} has a
 * billion digits.
 */
public final class BoundedJson {

    /** Arrays and objects nested deeper than this are refused; real requests use a handful. */
    public static final int MAX_DEPTH = 64;
    /** Longest number token (sign, digits, point and exponent): more than any double needs. */
    public static final int MAX_NUMBER_LENGTH = 100;
    /** Largest exponent written after {@code e}/{@code E}; doubles end at about 1e308. */
    public static final int MAX_EXPONENT = 1000;

    static final String PREFIX = "JSON parse error - ";

    private BoundedJson() {
    }

    /** The one JSON value of the stream (UTF-8/16/32 detected as {@code JsonReader} does). */
    public static JsonValue read(InputStream in) {
        return read(() -> Jsonp.createParser(in));
    }

    /** The one JSON value of the text. */
    public static JsonValue read(Reader in) {
        return read(() -> Jsonp.createParser(in));
    }

    private static JsonValue read(Supplier<JsonParser> opening) {
        JsonParser parser;
        try {
            // The provider detects a stream's encoding from its first bytes here already: a body of
            // one byte such as "{" fails in this call ("not enough chars"), not in the parse below.
            parser = opening.get();
        } catch (RuntimeException e) {
            throw malformed(e);
        }
        try (parser) {
            return read(parser);
        }
    }

    private static JsonValue read(JsonParser parser) {
        try {
            if (!parser.hasNext()) {
                throw ApiException.badRequest(PREFIX + "the request body is empty.");
            }
            JsonValue value = value(parser);
            if (parser.hasNext()) {
                // (the provider usually fails in hasNext() already on anything but whitespace)
                throw ApiException.badRequest(PREFIX + "more than one JSON value.");
            }
            return value;
        } catch (RuntimeException e) {
            throw malformed(e);
        }
    }

    /**
     * What an exception thrown while the JSON provider reads a body means: for what the provider
     * throws on malformed input, the body's fault, a 400 — never a 500. That is JsonParsingException
     * (syntax, its own size limits; its message, on one line, says where), other JsonExceptions,
     * IllegalStateException and NoSuchElementException (a stream that ends inside a value),
     * NumberFormatException and UnsupportedOperationException (number forms its BigDecimal
     * conversion refuses). Anything else (an {@link ApiException} of the caller's own checks, a bug)
     * is thrown on as it is. For every reader of request JSON, so that all answer alike.
     */
    public static ApiException malformed(RuntimeException e) {
        if (e instanceof JsonParsingException) {
            return ApiException.badRequest(PREFIX + oneLine(e.getMessage()));
        }
        if (e instanceof JsonException || e instanceof IllegalStateException || e instanceof UnsupportedOperationException
                || e instanceof NumberFormatException || e instanceof java.util.NoSuchElementException) {
            return ApiException.badRequest(PREFIX + "the request body is not valid JSON.");
        }
        throw e;
    }

    /**
     * Builds the value that starts at the parser's next event, iteratively (a recursive builder
     * would put the nesting limit on the thread stack instead of on a counter).
     */
    private static JsonValue value(JsonParser parser) {
        Deque<Object> open = new ArrayDeque<>(); // JsonObjectBuilder or JsonArrayBuilder
        Deque<String> keys = new ArrayDeque<>();
        String key = null;
        while (true) {
            JsonParser.Event event = parser.next();
            JsonValue done;
            switch (event) {
                case KEY_NAME -> {
                    key = parser.getString();
                    refuseNul(key);
                    continue;
                }
                case START_OBJECT, START_ARRAY -> {
                    if (open.size() == MAX_DEPTH) {
                        throw ApiException.badRequest(PREFIX + "nested too deeply: at most " + MAX_DEPTH
                                + " levels of arrays and objects.");
                    }
                    open.push(event == JsonParser.Event.START_OBJECT ? Jsonp.createObjectBuilder()
                            : Jsonp.createArrayBuilder());
                    keys.push(key == null ? "" : key);
                    key = null;
                    continue;
                }
                case END_OBJECT -> {
                    done = ((JsonObjectBuilder) open.pop()).build();
                    key = keys.pop();
                }
                case END_ARRAY -> {
                    done = ((JsonArrayBuilder) open.pop()).build();
                    key = keys.pop();
                }
                case VALUE_NUMBER -> {
                    checkNumber(parser.getString());
                    done = parser.getValue();
                }
                case VALUE_STRING -> {
                    refuseNul(parser.getString());
                    done = parser.getValue();
                }
                default -> done = parser.getValue(); // true, false, null
            }
            if (open.isEmpty()) {
                return done;
            }
            if (open.peek() instanceof JsonObjectBuilder object) {
                object.add(key, done);
            } else {
                ((JsonArrayBuilder) open.peek()).add(done);
            }
            key = null;
        }
    }

    /**
     * Refuses a key or string holding U+0000: PostgreSQL stores it neither in
     * {@code text} nor in {@code jsonb}, so such a value would fail at the database with a 500
     * ({@link FormBodies}). No field of the API has a use for it.
     */
    private static void refuseNul(String text) {
        if (text.indexOf('\0') >= 0) {
            throw ApiException.badRequest(PREFIX + "a string contains the character U+0000, which is not accepted.");
        }
    }

    /** Refuses a number token that is too long or whose exponent is too large, before it is converted. */
    static void checkNumber(String text) {
        if (text.length() > MAX_NUMBER_LENGTH) {
            throw ApiException.badRequest(PREFIX + "a number is too long: at most " + MAX_NUMBER_LENGTH
                    + " characters.");
        }
        int e = Math.max(text.indexOf('e'), text.indexOf('E'));
        if (e < 0) {
            return;
        }
        String digits = text.substring(e + 1).replaceFirst("^[+-]", "").replaceFirst("^0+(?=.)", "");
        // at most 100 characters, so comparing lengths first keeps this from overflowing
        if (digits.length() > 4 || Integer.parseInt(digits) > MAX_EXPONENT) {
            throw ApiException.badRequest(PREFIX + "a number's exponent is too large: at most " + MAX_EXPONENT
                    + " in magnitude.");
        }
    }

    /** A parser's message as one line of at most 200 characters, for a {@code detail}. */
    static String oneLine(String message) {
        if (message == null) {
            return "malformed JSON.";
        }
        String line = message.replaceAll("\\s+", " ").trim();
        return line.length() > 200 ? line.substring(0, 200) : line;
    }
}
