package org.flserver.model;

import jakarta.ws.rs.core.EntityPart;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flserver.platform.ApiException;
import org.flserver.platform.JsonBodies;

/**
 * The parts of a multipart form, split Django-style into text fields and files: a part with a
 * file name is a file, anything else a text field; repeated fields are lists ({@code input_shape},
 * {@code metric_names}); for single fields the last occurrence wins. Text fields are read into
 * memory, each up to {@code fl.upload.max-field-bytes} ({@link FormLimits}, which
 * {@link FormLimitFilter} has already enforced on the stream; checked here again because a part's
 * kind is decided by the runtime's own reading of its headers); file parts are left for
 * {@link ModelFiles#receive} to stream to disk.
 */
public final class UploadForm {

    private final Map<String, List<String>> texts;
    private final Map<String, EntityPart> files;

    private UploadForm(Map<String, List<String>> texts, Map<String, EntityPart> files) {
        this.texts = texts;
        this.files = files;
    }

    public static UploadForm read(List<EntityPart> parts, FormLimits limits) {
        if (parts == null) {
            // the runtime hands a multipart route no parts when the request has no body type
            // at all; Django reads such a request as an empty form
            return empty();
        }
        Map<String, List<String>> texts = new HashMap<>();
        Map<String, EntityPart> files = new HashMap<>();
        for (EntityPart part : parts) {
            if (part.getFileName().isPresent()) {
                files.put(part.getName(), part);
            } else {
                texts.computeIfAbsent(part.getName(), k -> new ArrayList<>()).add(readText(part, limits.maxFieldBytes()));
            }
        }
        return new UploadForm(texts, files);
    }

    /**
     * A form sent without multipart ({@code application/x-www-form-urlencoded}) as Django's
     * QueryDict reads it: pairs split at {@code &}, {@code +} is a space, a name without {@code =}
     * has the value "" and repeated names are lists. It has no files, so a route that needs one
     * answers as the reference does for a form without it. At most {@link JsonBodies#MAX_JSON_BYTES}
     * bytes, as every other small body.
     */
    public static UploadForm urlEncoded(InputStream body) {
        byte[] bytes;
        try {
            bytes = body.readNBytes(JsonBodies.MAX_JSON_BYTES + 1);
        } catch (IOException e) {
            throw ApiException.badRequest("The request body could not be read.");
        }
        if (bytes.length > JsonBodies.MAX_JSON_BYTES) {
            throw ApiException.detail(413, "Request body too large: at most " + JsonBodies.MAX_JSON_BYTES + " bytes.");
        }
        Map<String, List<String>> texts = new HashMap<>();
        for (String pair : new String(bytes, StandardCharsets.UTF_8).split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                texts.computeIfAbsent(URLDecoder.decode(name, StandardCharsets.UTF_8), k -> new ArrayList<>())
                        .add(URLDecoder.decode(value, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("The form body is not valid url-encoded text.");
            }
        }
        return new UploadForm(texts, Map.of());
    }

    /**
     * A request without a body type: Django reads its {@code request.POST} as an empty form, so the
     * reference answers it like a form that lacks every field.
     */
    public static UploadForm empty() {
        return new UploadForm(Map.of(), Map.of());
    }

    /** The last value of a text field, or null when it is absent. */
    public String text(String name) {
        List<String> values = texts.get(name);
        return values == null ? null : values.get(values.size() - 1);
    }

    /** Every value of a repeated text field, in order (empty when absent). */
    public List<String> texts(String name) {
        return texts.getOrDefault(name, List.of());
    }

    public boolean has(String name) {
        return texts.containsKey(name);
    }

    /**
     * A field the reference reads as {@code request.POST[name]}: absent, the 400 carries Python's
     * KeyError text ({@code 'round'}), as the reference's does.
     */
    public String required(String name) {
        String value = text(name);
        if (value == null) {
            throw ApiException.badRequest("'" + name + "'");
        }
        return value;
    }

    /**
     * A required field as an int32 the way Python's {@code int()} reads it (surrounding blanks and a
     * sign allowed), at least {@code min}; anything else is a 400 (the reference: 500).
     */
    public int integer(String name, int min) {
        String text = required(name);
        try {
            BigInteger value = new BigInteger(text.strip());
            if (value.compareTo(BigInteger.valueOf(min)) >= 0
                    && value.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) <= 0) {
                return value.intValue();
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiException.badRequest("Invalid " + name + ": must be an integer from " + min + " to "
                + Integer.MAX_VALUE + ".");
    }

    /** The file part of that name; absent, the reference's 400 {@code No uploaded file '<name>' found.} */
    public EntityPart requiredFile(String name) {
        EntityPart file = file(name);
        if (file == null) {
            throw ApiException.detail(400, "No uploaded file '" + name + "' found.");
        }
        return file;
    }

    /** The file part of that name, or null. */
    public EntityPart file(String name) {
        return files.get(name);
    }

    static String abbreviate(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }

    private static String readText(EntityPart part, long maxBytes) {
        try (InputStream in = part.getContent()) {
            byte[] bytes = in.readNBytes((int) Math.min(maxBytes + 1, Integer.MAX_VALUE - 8));
            if (bytes.length > maxBytes) {
                throw ApiException.detail(413, "Field '" + abbreviate(String.valueOf(part.getName()))
                        + "' is too long: at most " + maxBytes + " bytes.");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw ApiException.badRequest("The form field '" + abbreviate(part.getName()) + "' could not be read.");
        }
    }
}
