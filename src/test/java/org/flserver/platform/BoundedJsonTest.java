package org.flserver.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link BoundedJson} and {@link JsonBodies}: the limits on nesting and numbers, and what still parses. */
class BoundedJsonTest {

    private static final String TOO_DEEP =
            "{\"detail\":\"JSON parse error - nested too deeply: at most 64 levels of arrays and objects.\"}";
    private static final String TOO_LONG =
            "{\"detail\":\"JSON parse error - a number is too long: at most 100 characters.\"}";
    private static final String BIG_EXPONENT =
            "{\"detail\":\"JSON parse error - a number's exponent is too large: at most 1000 in magnitude.\"}";

    @Test
    void sixtyFourLevelsParseAndSixtyFiveAreRefused() {
        JsonValue deepest = BoundedJson.read(new StringReader(nested(64, "7")));
        for (int level = 0; level < 64; level++) {
            deepest = ((JsonArray) deepest).get(0);
        }
        assertEquals(7, ((JsonNumber) deepest).intValue());
        assertEquals(TOO_DEEP, refusal(nested(65, "7")));
        assertEquals(TOO_DEEP, refusal("{\"a\":" + nested(1000, "") + "}"));
    }

    @Test
    void objectsCountAsLevelsLikeArrays() {
        String objects = "{\"a\":".repeat(65) + "1" + "}".repeat(65);
        assertEquals(TOO_DEEP, refusal(objects));
        String sixtyFour = "{\"a\":".repeat(64) + "1" + "}".repeat(64);
        JsonObject outer = (JsonObject) BoundedJson.read(new StringReader(sixtyFour));
        assertEquals(1, ((JsonNumber) outer.getValue("/a".repeat(64))).intValue());
    }

    @Test
    void numbersOfAHundredCharactersParseAndLongerOnesAreRefused() {
        String hundred = "1".repeat(100);
        JsonValue value = BoundedJson.read(new StringReader("[" + hundred + "]"));
        assertEquals(new java.math.BigInteger(hundred), ((JsonArray) value).getJsonNumber(0).bigIntegerValue());
        assertEquals(TOO_LONG, refusal("[" + "1".repeat(101) + "]"));
        assertEquals(TOO_LONG, refusal("{\"target_num_updates\":" + "9".repeat(5000) + "}"));
        assertEquals(TOO_LONG, refusal("[0." + "0".repeat(99) + "1]"));
    }

    @Test
    void exponentsBeyondAThousandAreRefusedBeforeConversion() {
        assertEquals(BIG_EXPONENT, refusal("[1e1000000000]"));
        assertEquals(BIG_EXPONENT, refusal("[1E+1001]"));
        assertEquals(BIG_EXPONENT, refusal("[-2.5e-1001]"));
        assertEquals(BIG_EXPONENT, refusal("[1e" + "9".repeat(90) + "]"));
        JsonArray fine = (JsonArray) BoundedJson.read(new StringReader("[1e1000, 2.5E-1000, 1e+0001000, 0.5]"));
        assertEquals(new java.math.BigDecimal("1e1000"), fine.getJsonNumber(0).bigDecimalValue());
        assertEquals(new java.math.BigDecimal("2.5E-1000"), fine.getJsonNumber(1).bigDecimalValue());
        assertEquals(new java.math.BigDecimal("1e1000"), fine.getJsonNumber(2).bigDecimalValue());
        assertEquals(0.5, fine.getJsonNumber(3).doubleValue());
    }

    @Test
    void theTreeIsTheOneJsonReaderBuilds() {
        String text = "{\"name\":\"n\",\"list\":[1,2.5,-3,true,false,null,\"s\",{\"k\":[]}],\"empty\":{},"
                + "\"big\":12345678901234567890,\"dup\":1,\"dup\":2}";
        JsonValue expected;
        try (var reader = Jsonp.createReader(new StringReader(text))) {
            expected = reader.readValue();
        }
        assertEquals(expected, BoundedJson.read(new StringReader(text)));
        assertEquals(expected.toString(), BoundedJson.read(new StringReader(text)).toString());
    }

    @Test
    void malformedTextIsA400() {
        for (String text : new String[]{"{\"a\":", "[1,]", "{} {}", "[1] x", "nul", "{\"a\" 1}", "\"unterminated"}) {
            ApiException e = assertThrows(ApiException.class, () -> BoundedJson.read(new StringReader(text)), text);
            assertEquals(400, e.status(), text);
            String detail = ((JsonObject) e.body()).getString("detail");
            assertEquals(true, detail.startsWith("JSON parse error - "), detail);
        }
    }

    /**
     * Bodies of one byte: the provider detects a stream's encoding from its first two bytes when
     * the parser is made, and refused these there (once a 500).
     */
    @Test
    void oneByteBodiesAreA400() {
        for (String text : new String[]{"{", "[", "1", "x", "\"", "-"}) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            ApiException e = assertThrows(ApiException.class, () -> BoundedJson.read(new ByteArrayInputStream(bytes)), text);
            assertEquals(400, e.status(), text);
            assertEquals("{\"detail\":\"JSON parse error - the request body is not valid JSON.\"}", e.body().toString(), text);
            ApiException body = assertThrows(ApiException.class, () -> JsonBodies.readObject(new ByteArrayInputStream(bytes)), text);
            assertEquals(400, body.status(), text);
        }
        assertEquals(1, ((JsonNumber) BoundedJson.read(new ByteArrayInputStream("1 ".getBytes(StandardCharsets.UTF_8)))).intValue());
    }

    @Test
    void aNulInAStringOrKeyIsRefused() {
        String nul = "{\"detail\":\"JSON parse error - a string contains the character U+0000, which is not accepted.\"}";
        // written as JSON's escape (a raw control character inside a string is no valid JSON at all)
        assertEquals(nul, refusal("{\"a\":\"x\\u0000y\"}"));
        assertEquals(nul, refusal("{\"a\\u0000\":1}"));
        assertEquals(nul, refusal("[[\"\\u0000\"]]"));
        assertEquals(nul, refusal("\"\\u0000\""));
        // U+0001 and other control characters pass: PostgreSQL stores them
        assertEquals("x\u0001", ((JsonObject) BoundedJson.read(new StringReader("{\"a\":\"x\\u0001\"}"))).getString("a"));
    }

    @Test
    void jsonBodiesAppliesTheLimitsToRequestBodies() {
        ApiException deep = assertThrows(ApiException.class, () -> JsonBodies.readObject(
                new ByteArrayInputStream(("{\"a\":" + nested(1000, "") + "}").getBytes(StandardCharsets.UTF_8))));
        assertEquals(400, deep.status());
        assertEquals(TOO_DEEP, deep.body().toString());
        JsonObject ok = JsonBodies.readObject(new ByteArrayInputStream(
                "{\"username\":\"u\",\"n\":3}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("u", ok.getString("username"));
        assertEquals(3, ok.getInt("n"));
    }

    private static String nested(int levels, String inner) {
        return "[".repeat(levels) + inner + "]".repeat(levels);
    }

    private static String refusal(String text) {
        ApiException e = assertThrows(ApiException.class, () -> BoundedJson.read(new StringReader(text)));
        assertEquals(400, e.status());
        return e.body().toString();
    }
}
