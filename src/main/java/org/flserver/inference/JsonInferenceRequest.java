package org.flserver.inference;

import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonParser;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.flserver.platform.ApiException;
import org.flserver.platform.BoundedJson;
import org.flserver.platform.Jsonp;

/**
 * The JSON body of {@code POST /api/inference/} read as a stream of parser events, its
 * {@code model_input} lists straight into a {@code float[]} (api.md §10). Building a JSON-P tree
 * first, as other bodies are read ({@code JsonBodies}), costs about 19 heap bytes per body byte
 * (a JsonNumber and a list slot per number): 30 MB of nested lists became a 565 MB tree before a
 * number was counted. Here the numbers are counted as they arrive and refused past
 * {@link ModelInputs#MAX_ELEMENTS}, and nothing else of the body is kept but the few scalars the
 * resource reads.
 *
 * <p>The answers are those of the tree: the same limits as {@link BoundedJson} (nesting, number
 * length, no U+0000, 400 {@code "JSON parse error - …"}), the same shape rule as {@link ModelInputs#fromJson}
 * (the shape is that of the first element at each level; every list must match it) and the same
 * messages. A problem of {@code model_input} itself is kept and raised by {@link Input#decode}, so
 * that the resource's checks still run in the reference's order (model, format, then input).
 * Arrays and objects under other keys are only checked and skipped; {@code return_format} given as
 * one is echoed as {@code […]} or <code>{…}</code>.
 */
final class JsonInferenceRequest {

    private static final String PREFIX = "JSON parse error - ";
    private static final String NOT_RECTANGULAR = "The model input must be nested lists of numbers of a"
            + " rectangular shape.";

    /** What {@code model_input} was: decoded on demand, its error (if any) raised then. */
    interface Input {
        Tensor decode() throws ModelInputs.BadInput;
    }

    /** {@code model_id} when it is a string, else null. */
    private String modelId;
    /** {@code return_format}: a string as it is, another value as its JSON text, null when absent or null. */
    private String returnFormat;
    /** {@code model_input}, or null when absent or JSON null. */
    private Input input;

    private JsonInferenceRequest() {
    }

    String modelId() {
        return modelId;
    }

    String returnFormat() {
        return returnFormat;
    }

    Input input() {
        return input;
    }

    /** Reads at most {@code maxBytes} of the body (413 beyond) and parses them. */
    static JsonInferenceRequest read(InputStream body, int maxBytes) {
        byte[] bytes;
        try {
            bytes = body == null ? new byte[0] : body.readNBytes(maxBytes + 1);
        } catch (IOException e) {
            throw ApiException.badRequest("The request body could not be read.");
        }
        if (bytes.length > maxBytes) {
            throw ApiException.detail(413, "Request body too large: at most " + maxBytes + " bytes of JSON.");
        }
        if (new String(bytes, StandardCharsets.UTF_8).isBlank()) {
            throw ApiException.badRequest(PREFIX + "the request body is empty.");
        }
        try (JsonParser parser = Jsonp.createParser(new ByteArrayInputStream(bytes))) {
            return parse(parser);
        } catch (RuntimeException e) {
            throw BoundedJson.malformed(e); // the provider's refusals of a malformed body: 400, as everywhere
        }
    }

    private static JsonInferenceRequest parse(JsonParser parser) {
        JsonInferenceRequest request = new JsonInferenceRequest();
        JsonParser.Event first = parser.next();
        if (first != JsonParser.Event.START_OBJECT) {
            // read to its end first: a malformed or too deep body is a parse error, as it always was
            if (first == JsonParser.Event.START_ARRAY) {
                skip(parser, 1);
            } else if (first == JsonParser.Event.VALUE_NUMBER) {
                checkNumber(parser.getString());
            }
            if (parser.hasNext()) {
                throw ApiException.badRequest(PREFIX + "more than one JSON value.");
            }
            throw new ApiException(400, Jsonp.createObjectBuilder().add("_schema",
                    Jsonp.createArrayBuilder().add("Invalid input type.")).build(), "not an object");
        }
        for (JsonParser.Event event = parser.next(); event != JsonParser.Event.END_OBJECT; event = parser.next()) {
            String key = parser.getString(); // a KEY_NAME: the parser allows nothing else here
            refuseNul(key);
            JsonParser.Event value = parser.next();
            // a key given twice counts once, with its last value, as in a JSON-P object
            switch (key) {
                case "model_input" -> request.input = value == JsonParser.Event.START_ARRAY ? lists(parser)
                        : value == JsonParser.Event.VALUE_NULL ? null : scalar(parser, value);
                case "model_id" -> {
                    JsonValue v = other(parser, value);
                    request.modelId = v instanceof JsonString s ? s.getString() : null;
                }
                case "return_format" -> {
                    JsonValue v = other(parser, value);
                    request.returnFormat = v == null ? (value == JsonParser.Event.START_ARRAY ? "[…]" : "{…}")
                            : v instanceof JsonString s ? s.getString() : v == JsonValue.NULL ? null : v.toString();
                }
                default -> other(parser, value);
            }
        }
        if (parser.hasNext()) {
            throw ApiException.badRequest(PREFIX + "more than one JSON value.");
        }
        return request;
    }

    /** A scalar's value; an array or object is checked, skipped and null. */
    private static JsonValue other(JsonParser parser, JsonParser.Event event) {
        if (event == JsonParser.Event.START_ARRAY || event == JsonParser.Event.START_OBJECT) {
            skip(parser, 2);
            return null;
        }
        if (event == JsonParser.Event.VALUE_NUMBER) {
            checkNumber(parser.getString());
        } else if (event == JsonParser.Event.VALUE_STRING) {
            refuseNul(parser.getString());
        }
        return parser.getValue();
    }

    /** A model input that is no list (a string of base64, or what ModelInputs refuses). */
    private static Input scalar(JsonParser parser, JsonParser.Event event) {
        if (event == JsonParser.Event.START_OBJECT) {
            skip(parser, 2);
            return () -> {
                throw new ModelInputs.BadInput(ModelInputs.NOT_A_TENSOR);
            };
        }
        JsonValue v = other(parser, event);
        return () -> ModelInputs.fromJson(v);
    }

    /**
     * The nested lists whose START_ARRAY was just read, as float32 (as {@link ModelInputs#fromJson}
     * reads a tree): the shape is fixed by the first list closed at each level, a number fixes the
     * rank; any list that differs, any element that is no number is {@value #NOT_RECTANGULAR}.
     */
    private static Input lists(JsonParser parser) {
        return lists(parser, 1);
    }

    /**
     * Nested lists given as JSON text (a multipart form value), read as {@link #lists}; a text that
     * is anything else is an {@link ApiException} like any malformed JSON.
     */
    static Tensor lists(String text) throws ModelInputs.BadInput {
        try (JsonParser parser = Jsonp.createParser(new StringReader(text))) {
            if (!parser.hasNext() || parser.next() != JsonParser.Event.START_ARRAY) {
                throw ApiException.badRequest(PREFIX + "not a list.");
            }
            Input input = lists(parser, 0);
            if (parser.hasNext()) {
                throw ApiException.badRequest(PREFIX + "more than one JSON value.");
            }
            return input.decode();
        } catch (RuntimeException e) {
            throw BoundedJson.malformed(e); // the provider's refusals of a malformed body: 400, as everywhere
        }
    }

    /** {@code outer}: the levels of arrays and objects around the lists (1: the body's object). */
    private static Input lists(JsonParser parser, int outer) {
        int maxLevels = BoundedJson.MAX_DEPTH - outer;
        long[] shape = new long[maxLevels];
        boolean[] known = new boolean[maxLevels];
        long[] children = new long[maxLevels];
        int rank = -1;
        float[] values = new float[1024];
        int n = 0;
        String error = null;
        int open = 1;
        while (open > 0) {
            JsonParser.Event event = parser.next();
            switch (event) {
                case START_ARRAY -> {
                    if (open == maxLevels) {
                        throw tooDeep();
                    }
                    if (rank >= 0 && open >= rank) {
                        error = error == null ? NOT_RECTANGULAR : error;
                    }
                    children[open - 1]++;
                    children[open++] = 0;
                }
                case END_ARRAY -> {
                    int level = --open;
                    if (!known[level]) {
                        known[level] = true;
                        shape[level] = children[level];
                        if (children[level] == 0 && rank < 0) {
                            rank = level + 1;
                        }
                    } else if (shape[level] != children[level]) {
                        error = error == null ? NOT_RECTANGULAR : error;
                    }
                }
                case VALUE_NUMBER -> {
                    String text = parser.getString();
                    checkNumber(text);
                    if (rank < 0) {
                        rank = open;
                    } else if (open != rank) {
                        error = error == null ? NOT_RECTANGULAR : error;
                    }
                    children[open - 1]++;
                    if (error == null) {
                        if (n == ModelInputs.MAX_ELEMENTS) {
                            error = tooLarge();
                            values = null;
                        } else {
                            if (n == values.length) {
                                values = Arrays.copyOf(values, (int) Math.min(ModelInputs.MAX_ELEMENTS, 2L * n));
                            }
                            float x = (float) Double.parseDouble(text);
                            values[n++] = x == 0 ? 0f : x; // -0 is 0, as the tree's BigDecimal made it
                        }
                    }
                }
                case START_OBJECT -> {
                    skip(parser, outer + open + 1);
                    error = error == null ? NOT_RECTANGULAR : error;
                }
                default -> { // a string, true, false, null
                    if (event == JsonParser.Event.VALUE_STRING) {
                        refuseNul(parser.getString());
                    }
                    error = error == null ? NOT_RECTANGULAR : error;
                }
            }
        }
        if (error == null && tooMany(Arrays.copyOf(shape, rank))) {
            // an empty input whose leading dimensions are too large, e.g. 2^25 empty lists, as fromJson says
            error = tooLarge();
        }
        if (error != null) {
            String message = error;
            return () -> {
                throw new ModelInputs.BadInput(message);
            };
        }
        Tensor t = Tensor.ofFloats(Arrays.copyOf(shape, rank), n == values.length ? values : Arrays.copyOf(values, n));
        return () -> t;
    }

    private static String tooLarge() {
        return "The model input is too large: at most " + ModelInputs.MAX_ELEMENTS + " numbers.";
    }

    /** Whether the product of the dimensions, taken from the first, exceeds the bound at some point. */
    private static boolean tooMany(long[] dims) {
        long product = 1;
        for (long d : dims) {
            product *= d; // both factors at most 2^31 (a list of a 32 MiB body): no overflow
            if (product > ModelInputs.MAX_ELEMENTS) {
                return true;
            }
        }
        return false;
    }

    /** Consumes the array or object just opened at nesting {@code level} (1: the body itself). */
    private static void skip(JsonParser parser, int level) {
        int depth = 1;
        while (depth > 0) {
            switch (parser.next()) {
                case START_ARRAY, START_OBJECT -> {
                    if (level + depth > BoundedJson.MAX_DEPTH) {
                        throw tooDeep();
                    }
                    depth++;
                }
                case END_ARRAY, END_OBJECT -> depth--;
                case VALUE_NUMBER -> checkNumber(parser.getString());
                case KEY_NAME, VALUE_STRING -> refuseNul(parser.getString());
                default -> {
                    // literals are skipped
                }
            }
        }
    }

    /** As {@link BoundedJson}: no key or string may hold U+0000. */
    private static void refuseNul(String text) {
        if (text.indexOf('\0') >= 0) {
            throw ApiException.badRequest(PREFIX + "a string contains the character U+0000, which is not accepted.");
        }
    }

    private static ApiException tooDeep() {
        return ApiException.badRequest(PREFIX + "nested too deeply: at most " + BoundedJson.MAX_DEPTH
                + " levels of arrays and objects.");
    }

    /**
     * The number limits of {@link BoundedJson}: its length (a number's exponent only matters to a
     * {@code BigDecimal}; list numbers are parsed as doubles, where {@code 1e5000} is infinity, as in
     * Python's {@code json}).
     */
    private static void checkNumber(String text) {
        if (text.length() > BoundedJson.MAX_NUMBER_LENGTH) {
            throw ApiException.badRequest(PREFIX + "a number is too long: at most " + BoundedJson.MAX_NUMBER_LENGTH
                    + " characters.");
        }
    }
}
