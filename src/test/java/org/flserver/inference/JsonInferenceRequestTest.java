package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.flserver.platform.ApiException;
import org.flserver.platform.BoundedJson;
import org.flserver.platform.JsonBodies;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * {@link JsonInferenceRequest} reads a body as the JSON-P tree did ({@link BoundedJson} then
 * {@link ModelInputs#fromJson}): each case is read both ways and must give the same tensor, the
 * same refusal or the same fields.
 */
class JsonInferenceRequestTest {

    @ParameterizedTest
    @ValueSource(strings = {
        "[1, 2.5, -3e2]", "[[1, 2], [3, 4], [5, 6]]", "[[[1], [2]], [[3], [4]]]", "[]", "[[]]", "[[], []]",
        "[[[]], [[]]]", "[[1, 2], [3]]", "[[1], [2, 3]]", "[[], [1]]", "[[1], []]", "[1, [2]]", "[[1], 2]",
        "[[1], [[2]]]", "[[[]], [[1]]]", "[1, \"2\"]", "[1, null]", "[true]", "[{\"a\": 1}]", "[[1, {}], [2, 3]]",
        "[0.1, 1e-45, 3.4028236e38, -0.0, 1E+2]", "\"not base64!\"", "42", "{\"x\": [1]}", "null",
    })
    void modelInputsAreReadAsTheTreeReadThem(String modelInput) throws Exception {
        String body = "{\"model_id\": \"m\", \"model_input\": " + modelInput + "}";
        assertSame(tree(body), streamed(body));
    }

    @Test
    void base64OfATensorFileIsDecodedAsBefore() throws Exception {
        byte[] png = TestImages.encoded(3, 2, "png");
        String body = "{\"model_input\": \"" + Base64.getEncoder().encodeToString(png) + "\"}";
        assertSame(tree(body), streamed(body));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"model_id\": \"abc\", \"return_format\": \"json\"}", "{\"model_id\": 5, \"return_format\": 7.50}",
        "{\"return_format\": null, \"model_input\": null}", "{\"return_format\": true}",
        "{\"model_id\": \"a\", \"model_id\": \"b\", \"model_input\": [1], \"model_input\": [[2, 3]]}",
        "{\"other\": [[1, {\"deep\": [2]}]], \"model_id\": [\"x\"]}", "{}",
    })
    void theOtherFieldsAreThoseOfTheTree(String body) throws Exception {
        JsonObject tree = JsonBodies.readObject(bytes(body), 1 << 20);
        JsonInferenceRequest streamed = JsonInferenceRequest.read(bytes(body), 1 << 20);
        assertEquals(tree.get("model_id") instanceof JsonString s ? s.getString() : null, streamed.modelId());
        JsonValue format = tree.get("return_format");
        assertEquals(format instanceof JsonString s ? s.getString()
                : format == null || format == JsonValue.NULL ? null : format.toString(), streamed.returnFormat());
        assertSame(tree, streamed);
    }

    @Test
    void aStructuredReturnFormatIsEchoedAsBrackets() {
        assertEquals("[…]", JsonInferenceRequest.read(bytes("{\"return_format\": [\"json\"]}"), 100).returnFormat());
        assertEquals("{…}", JsonInferenceRequest.read(bytes("{\"return_format\": {}}"), 100).returnFormat());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "  ", "[1, 2]", "\"text\"", "{\"model_input\": [1, 2}", "{\"model_input\": [1]} []", "{\"a\": 1",
    })
    void malformedBodiesAreRefusedAsBefore(String body) {
        assertSameRefusal(body);
    }

    @Test
    void longNumbersAreRefusedAsBefore() {
        assertSameRefusal("{\"model_input\": [1" + "0".repeat(200) + "]}");
        assertSameRefusal("{\"x\": 1" + "0".repeat(200) + "}");
        assertSameRefusal("{\"x\": [[1" + "0".repeat(200) + "]]}");
    }

    @Test
    void nulCharactersAreRefusedAsBefore() {
        for (String where : new String[]{"{\"x\\u0000\": 1}", "{\"model_id\": \"a\\u0000\"}",
            "{\"x\": [{\"k\": \"\\u0000\"}]}", "{\"model_input\": [1, \"\\u0000\"]}"}) {
            assertSameRefusal(where);
        }
    }

    private static void assertSameRefusal(String body) {
        ApiException tree = assertThrows(ApiException.class, () -> JsonBodies.readObject(bytes(body), 1 << 20));
        ApiException streamed = assertThrows(ApiException.class, () -> JsonInferenceRequest.read(bytes(body), 1 << 20));
        assertEquals(tree.status(), streamed.status());
        assertEquals(tree.body().toString(), streamed.body().toString());
    }

    @Test
    void nestingIsBoundedAsBefore() {
        for (int levels : new int[]{62, 63, 64}) {
            String lists = "[".repeat(levels) + "1" + "]".repeat(levels);
            String body = "{\"model_input\": " + lists + "}";
            String other = "{\"x\": " + lists + "}";
            for (String b : new String[]{body, other}) {
                if (levels < 64) {
                    JsonBodies.readObject(bytes(b), 1 << 20);
                    JsonInferenceRequest.read(bytes(b), 1 << 20);
                } else {
                    ApiException tree = assertThrows(ApiException.class, () -> JsonBodies.readObject(bytes(b), 1 << 20));
                    ApiException streamed = assertThrows(ApiException.class,
                            () -> JsonInferenceRequest.read(bytes(b), 1 << 20));
                    assertEquals(tree.body().toString(), streamed.body().toString());
                }
            }
        }
    }

    @Test
    void tooManyNumbersAreRefusedWhileTheyArrive() {
        // 2^24 + 1 zeros: the tree would have held them all before counting
        StringBuilder body = new StringBuilder("{\"model_input\": [0");
        body.append(",0".repeat((int) ModelInputs.MAX_ELEMENTS)).append("], \"model_id\": \"m\"}");
        JsonInferenceRequest request = JsonInferenceRequest.read(bytes(body.toString()), 64 << 20);
        assertEquals("m", request.modelId());
        ModelInputs.BadInput e = assertThrows(ModelInputs.BadInput.class, () -> request.input().decode());
        assertEquals("The model input is too large: at most 16777216 numbers.", e.getMessage());
    }

    @Test
    void aBodyOverTheLimitIs413() {
        ApiException e = assertThrows(ApiException.class, () -> JsonInferenceRequest.read(bytes("{\"a\": 1}"), 7));
        assertEquals(413, e.status());
    }

    @ParameterizedTest
    @ValueSource(strings = {"[[1, 2], [3, 4]]", "[[1], [2, 3]]", "[]", "[1", "[1] 2", "[\"a\"]"})
    void formValuesOfListsAreReadAsTheTreeReadThem(String text) throws Exception {
        Object tree;
        try {
            tree = ModelInputs.fromJson(BoundedJson.read(new StringReader(text)));
        } catch (ApiException | ModelInputs.BadInput e) {
            tree = e.getClass();
        }
        Object streamed;
        try {
            streamed = JsonInferenceRequest.lists(text);
        } catch (ApiException | ModelInputs.BadInput e) {
            streamed = e.getClass();
        }
        assertEquals(describe(tree), describe(streamed));
    }

    private static void assertSame(JsonObject tree, JsonInferenceRequest streamed) {
        JsonValue input = tree.get("model_input");
        if (input == null || input == JsonValue.NULL) {
            assertNull(streamed.input());
            return;
        }
        assertEquals(decode(() -> ModelInputs.fromJson(input)), decode(() -> streamed.input().decode()));
    }

    private static JsonObject tree(String body) {
        return JsonBodies.readObject(bytes(body), 1 << 20);
    }

    private static JsonInferenceRequest streamed(String body) {
        return JsonInferenceRequest.read(bytes(body), 1 << 20);
    }

    /** A tensor as dtype, shape and values, or the refusal's message: comparable text. */
    private static String decode(JsonInferenceRequest.Input input) {
        try {
            return describe(input.decode());
        } catch (ModelInputs.BadInput e) {
            return "refused: " + e.getMessage();
        }
    }

    private static String describe(Object o) {
        if (o instanceof Tensor t) {
            return t.dtype() + java.util.Arrays.toString(t.shape()) + java.util.Arrays.toString(t.toDoubles());
        }
        return String.valueOf(o);
    }

    private static ByteArrayInputStream bytes(String body) {
        return new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8));
    }
}
