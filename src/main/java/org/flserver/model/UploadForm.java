package org.flserver.model;

import jakarta.ws.rs.core.EntityPart;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flserver.platform.ApiException;
import org.flserver.platform.FormBodies;

/**
 * The parts of a multipart form, split Django-style into text fields and files: a part with a
 * file name is a file, anything else a text field; repeated fields are lists ({@code input_shape},
 * {@code metric_names}); for single fields the last occurrence wins. Text fields are read into
 * memory, each up to {@code fl.upload.max-field-bytes} ({@link FormLimits}, which
 * {@link FormLimitFilter} has already enforced on the stream; checked here again because a part's
 * kind is decided by the runtime's own reading of its headers); file parts are left for
 * {@link ModelFiles#receive} to stream to disk. A text field holding U+0000 is a 400: the database
 * stores no NUL ({@link FormBodies}). A part without a {@code Content-Disposition} is a 400 too.
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
            requireContentDisposition(part);
            if (part.getFileName().isPresent()) {
                files.put(part.getName(), part);
            } else {
                texts.computeIfAbsent(part.getName(), k -> new ArrayList<>()).add(readText(part, limits.maxFieldBytes()));
            }
        }
        return new UploadForm(texts, files);
    }

    /**
     * Refuses a form part without a Content-Disposition header (400): the runtime gives such a part
     * no name, and its getFileName() throws (a 500 before this check). A part whose
     * Content-Disposition names no field the runtime refuses itself (400 "Bad request."). For every
     * reader of multipart forms.
     */
    public static void requireContentDisposition(EntityPart part) {
        if (part.getHeaders().getFirst("Content-Disposition") == null) {
            throw ApiException.badRequest("A form part has no Content-Disposition header.");
        }
    }

    /**
     * A form sent without multipart ({@code application/x-www-form-urlencoded}), read by
     * {@link FormBodies#urlEncoded} as Django's QueryDict reads it, bounded, as UTF-8. It has no
     * files, so a route that needs one answers as the reference does for a form without it.
     */
    public static UploadForm urlEncoded(InputStream body) {
        return new UploadForm(FormBodies.urlEncoded(body), Map.of());
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

    private static String readText(EntityPart part, long maxBytes) {
        try (InputStream in = part.getContent()) {
            byte[] bytes = in.readNBytes((int) Math.min(maxBytes + 1, Integer.MAX_VALUE - 8));
            if (bytes.length > maxBytes) {
                throw ApiException.detail(413, "Field '" + FormBodies.abbreviate(part.getName())
                        + "' is too long: at most " + maxBytes + " bytes.");
            }
            String text = new String(bytes, StandardCharsets.UTF_8);
            FormBodies.refuseNul(text, "The form field '" + FormBodies.abbreviate(part.getName()) + "'");
            return text;
        } catch (IOException e) {
            throw ApiException.badRequest("The form field '" + FormBodies.abbreviate(part.getName()) + "' could not be read.");
        }
    }
}
