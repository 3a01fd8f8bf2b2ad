package org.flserver.platform;

import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads request bodies as JSON-P trees under a size limit (and {@link BoundedJson}'s limits on
 * nesting and numbers). Resources take the raw stream and parse here rather than letting the
 * runtime bind records, so that every malformed body, wrong type or unknown field becomes a
 * precise 400 of ours instead of the runtime's own error.
 */
public final class JsonBodies {

    /** Largest JSON body accepted (users, trainings, client lists, inference). */
    public static final int MAX_JSON_BYTES = 1 << 20;

    /** JSON bodies of {@code /api/inference/} carry the model input as nested lists: up to 32 MiB. */
    public static final int MAX_INFERENCE_JSON_BYTES = 32 << 20;

    private JsonBodies() {
    }

    /** Parses the body as one JSON object; empty, malformed, oversized or non-object bodies are refused. */
    public static JsonObject readObject(InputStream body) {
        return readObject(body, MAX_JSON_BYTES);
    }

    /** As {@link #readObject(InputStream)} with another size limit. */
    public static JsonObject readObject(InputStream body, int maxBytes) {
        byte[] bytes = readLimited(body, maxBytes);
        if (bytes.length == 0 || new String(bytes, StandardCharsets.UTF_8).isBlank()) {
            throw ApiException.badRequest("JSON parse error - the request body is empty.");
        }
        JsonValue value = BoundedJson.read(new java.io.ByteArrayInputStream(bytes));
        if (!(value instanceof JsonObject object)) {
            throw new ApiException(400, Jsonp.createObjectBuilder().add("_schema",
                    Jsonp.createArrayBuilder().add("Invalid input type.")).build(), "not an object");
        }
        return object;
    }

    static byte[] readLimited(InputStream body, int limit) {
        if (body == null) {
            return new byte[0];
        }
        try {
            byte[] bytes = body.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw ApiException.detail(413, "Request body too large: at most " + limit + " bytes of JSON.");
            }
            return bytes;
        } catch (IOException e) {
            throw ApiException.badRequest("The request body could not be read.");
        }
    }
}
