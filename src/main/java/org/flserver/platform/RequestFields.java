package org.flserver.platform;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Typed, validated access to the fields of a JSON request object, collecting every problem as a
 * field error ({@code {"field": ["message"]}}, api.md §1.2) before anything is written. A resource
 * asks for each field, then calls {@link #check()}; the values it got back are only meaningful
 * when {@code check()} did not throw.
 *
 * <p>The reference validates with two libraries whose messages differ, and clients may show them:
 * marshmallow for trainings and their participants ({@code Missing data for required field.}),
 * Django REST Framework serializers for users and groups ({@code This field is required.}). Each
 * resource takes the wording of the library the reference uses on its route.
 */
public final class RequestFields {

    /** The validation library whose wording a route's answers follow. */
    public enum Wording {
        MARSHMALLOW("Missing data for required field.", "Field may not be null.", "Not a valid boolean."),
        DRF("This field is required.", "This field may not be null.", "Must be a valid boolean.");

        private final String required;
        private final String notNull;
        private final String notBoolean;

        Wording(String required, String notNull, String notBoolean) {
            this.required = required;
            this.notNull = notNull;
            this.notBoolean = notBoolean;
        }

        String tooLong(int maxLength) {
            return this == DRF ? "Ensure this field has no more than " + maxLength + " characters."
                    : "Longer than maximum length " + maxLength + ".";
        }
    }

    private final JsonObject object;
    private final Wording wording;
    private final Map<String, JsonValue> errors = new LinkedHashMap<>();

    /** Marshmallow's wording; every key not allowed is an {@code Unknown field.} */
    public RequestFields(JsonObject object, String... allowed) {
        this(object, Wording.MARSHMALLOW, true, allowed);
    }

    /**
     * @param refuseUnknown whether keys not allowed are an {@code Unknown field.} error, as
     *                      marshmallow reports them, or ignored, as DRF serializers do
     */
    public RequestFields(JsonObject object, Wording wording, boolean refuseUnknown, String... allowed) {
        this.object = object;
        this.wording = wording;
        if (refuseUnknown) {
            Set<String> known = Set.of(allowed);
            for (String key : object.keySet()) {
                if (!known.contains(key)) {
                    error(key, "Unknown field.");
                }
            }
        }
    }

    public boolean has(String name) {
        return object.containsKey(name) && object.get(name).getValueType() != JsonValue.ValueType.NULL;
    }

    public String string(String name, boolean required, int maxLength) {
        JsonValue value = present(name, required);
        if (value == null) {
            return null;
        }
        String text;
        if (value instanceof JsonString s) {
            text = s.getString();
        } else if (value instanceof JsonNumber n && wording == Wording.DRF) {
            // DRF's CharField takes a number as its text
            text = n.toString();
        } else {
            return error(name, "Not a valid string.");
        }
        if (text.length() > maxLength) {
            return error(name, wording.tooLong(maxLength));
        }
        return text;
    }

    public Boolean bool(String name) {
        JsonValue value = present(name, false);
        if (value == null) {
            return null;
        }
        if (value == JsonValue.TRUE) {
            return true;
        }
        if (value == JsonValue.FALSE) {
            return false;
        }
        return error(name, wording.notBoolean);
    }

    public Integer integer(String name, boolean required, long min, long max) {
        JsonValue value = present(name, required);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonNumber n) || !n.isIntegral()) {
            return error(name, "Not a valid integer.");
        }
        java.math.BigInteger big = n.bigIntegerValue();
        if (big.compareTo(java.math.BigInteger.valueOf(min)) < 0
                || big.compareTo(java.math.BigInteger.valueOf(max)) > 0) {
            return error(name, "Must be greater than or equal to " + min + " and less than or equal to " + max + ".");
        }
        return big.intValue();
    }

    public UUID uuid(String name, boolean required) {
        JsonValue value = present(name, required);
        if (value == null) {
            return null;
        }
        UUID id = value instanceof JsonString s ? Uuids.parseOrNull(s.getString()) : null;
        return id != null ? id : error(name, "Not a valid UUID.");
    }

    /** A list of UUIDs; bad entries are reported by index, as marshmallow does. */
    public List<UUID> uuids(String name, boolean required) {
        JsonValue value = present(name, required);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonArray array)) {
            return error(name, "Not a valid list.");
        }
        List<UUID> ids = new ArrayList<>();
        JsonObjectBuilder bad = Jsonp.createObjectBuilder();
        boolean anyBad = false;
        for (int i = 0; i < array.size(); i++) {
            JsonValue entry = array.get(i);
            UUID id = entry instanceof JsonString s ? Uuids.parseOrNull(s.getString()) : null;
            if (id == null) {
                bad.add(Integer.toString(i), Jsonp.createArrayBuilder().add("Not a valid UUID."));
                anyBad = true;
            } else {
                ids.add(id);
            }
        }
        if (anyBad) {
            errors.put(name, bad.build());
            return null;
        }
        return ids;
    }

    public List<String> strings(String name, boolean required, int maxLength) {
        JsonValue value = present(name, required);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonArray array)) {
            return error(name, "Not a valid list.");
        }
        List<String> out = new ArrayList<>();
        for (JsonValue entry : array) {
            if (!(entry instanceof JsonString s) || s.getString().length() > maxLength) {
                return error(name, "Not a valid list of strings (each at most " + maxLength + " characters).");
            }
            out.add(s.getString());
        }
        return out;
    }

    public JsonObject object(String name) {
        JsonValue value = present(name, false);
        if (value == null) {
            return null;
        }
        if (!(value instanceof JsonObject o)) {
            return error(name, "Not a valid mapping type.");
        }
        return o;
    }

    /** One of the given labels, matched exactly (case-sensitive), as the reference server does. */
    public String choice(String name, boolean required, String... labels) {
        String value = string(name, required, 64);
        if (value != null && !Arrays.asList(labels).contains(value)) {
            return error(name, "Must be one of: " + String.join(", ", labels) + ".");
        }
        return value;
    }

    /** Records a problem found by the caller (a value the type check let through). */
    public <T> T error(String name, String message) {
        if (!errors.containsKey(name)) {
            errors.put(name, Jsonp.createArrayBuilder().add(message).build());
        }
        return null;
    }

    public boolean hasErrors() {
        return !errors.isEmpty();
    }

    /** Throws the collected field errors as one 400, or returns when there are none. */
    public void check() {
        if (errors.isEmpty()) {
            return;
        }
        JsonObjectBuilder body = Jsonp.createObjectBuilder();
        errors.forEach(body::add);
        throw new ApiException(400, body.build(), "invalid fields " + errors.keySet());
    }

    private JsonValue present(String name, boolean required) {
        if (!has(name)) {
            if (required) {
                error(name, object.containsKey(name) ? wording.notNull : wording.required);
            }
            return null;
        }
        return object.get(name);
    }
}
