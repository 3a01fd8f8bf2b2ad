package org.flserver.platform;

import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Strict UUID parsing. {@link UUID#fromString} accepts forms such as {@code 1-1-1-1-1}; ids in
 * this API are always the canonical 36-character hyphenated form.
 */
public final class Uuids {

    private static final Pattern CANONICAL =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private Uuids() {
    }

    public static UUID parseOrNull(String text) {
        if (text == null || !CANONICAL.matcher(text).matches()) {
            return null;
        }
        return UUID.fromString(text);
    }

    /** A path id: malformed ids answer like unknown ones ({@code 400 "<Entity> <id> not found."}). */
    public static UUID pathId(String text, String entity) {
        UUID id = parseOrNull(text);
        if (id == null) {
            throw ApiException.notFound(entity, text);
        }
        return id;
    }
}
