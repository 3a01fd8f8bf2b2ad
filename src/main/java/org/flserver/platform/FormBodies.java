package org.flserver.platform;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads {@code application/x-www-form-urlencoded} bodies under our own bound, and the check every
 * text that reaches the database passes: no U+0000.
 *
 * <p>Why the routes do not take the runtime's {@code MultivaluedMap}: the runtime reads the whole
 * body into the heap before the resource runs ({@link RequestSizeLimit} only sees a declared
 * {@code Content-Length}, a chunked body passes it), and decodes it in the charset the client names,
 * so {@code charset=nope} was a 500. Here at most {@link JsonBodies#MAX_JSON_BYTES} bytes are read,
 * always as UTF-8 (what browsers and Python requests send; Django decodes forms as UTF-8 by default).
 *
 * <p>Why U+0000 is refused: PostgreSQL stores no NUL in {@code text} (SQLSTATE 22021) nor
 * a NUL escape in {@code jsonb} (22P05), so such a value was a 500 when it reached the database.
 * It is refused where text enters: here, in {@link BoundedJson} and in multipart text fields.
 */
public final class FormBodies {

    private FormBodies() {
    }

    /**
     * A url-encoded form as Django's QueryDict reads it: pairs split at {@code &}, {@code +} is a
     * space, a name without {@code =} has the value "" and repeated names are lists (in the order
     * sent; names in the order first seen). Oversized bodies are a 413, malformed escapes and NULs a 400.
     */
    public static Map<String, List<String>> urlEncoded(InputStream body) {
        byte[] bytes;
        try {
            bytes = body == null ? new byte[0] : body.readNBytes(JsonBodies.MAX_JSON_BYTES + 1);
        } catch (IOException e) {
            throw ApiException.badRequest("The request body could not be read.");
        }
        if (bytes.length > JsonBodies.MAX_JSON_BYTES) {
            throw ApiException.detail(413, "Request body too large: at most " + JsonBodies.MAX_JSON_BYTES + " bytes.");
        }
        Map<String, List<String>> fields = new LinkedHashMap<>();
        for (String pair : new String(bytes, StandardCharsets.UTF_8).split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name;
            String value;
            try {
                name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("The form body is not valid url-encoded text.");
            }
            refuseNul(name, "A form field name");
            refuseNul(value, "The form field '" + abbreviate(name) + "'");
            fields.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
        }
        return fields;
    }

    /** A 400 {@code "<what> contains the character U+0000, which is not accepted."} when text has a NUL. */
    public static void refuseNul(String text, String what) {
        if (text != null && text.indexOf('\0') >= 0) {
            throw ApiException.badRequest(what + " contains the character U+0000, which is not accepted.");
        }
    }

    /** A client's text shortened for an error message: at most 40 characters and an ellipsis. */
    public static String abbreviate(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }
}
