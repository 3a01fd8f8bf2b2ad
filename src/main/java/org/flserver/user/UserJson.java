package org.flserver.user;

import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import org.flserver.platform.Jsonp;

/**
 * The API's user and group JSON (api.md §3, §4). The token appears only for the caller's own record;
 * the contact fields ({@code email}, {@code message_endpoint}) only for the user itself and for
 * superusers — other callers get them as {@code ""}, so clients that read the fields keep working.
 */
public final class UserJson {

    private UserJson() {
    }

    /** The user as {@code caller} may see it; the token only when it is the caller's own record. */
    public static JsonObject user(User user, User caller) {
        boolean own = user.getId().equals(caller.getId());
        return user(user, own, own || caller.isSuperuser());
    }

    /** The user in a listing as {@code caller} may see it: never with a token, as in the reference. */
    public static JsonObject listed(User user, User caller) {
        return user(user, false, user.getId().equals(caller.getId()) || caller.isSuperuser());
    }

    /** The caller's own record without the token, as the reference's {@code /users/myself/} answers. */
    public static JsonObject myself(User user) {
        return user(user, false, true);
    }

    /** The user with its token (answer to its own creation). */
    public static JsonObject created(User user) {
        return user(user, true, true);
    }

    private static JsonObject user(User user, boolean withToken, boolean withContact) {
        JsonObjectBuilder json = Jsonp.createObjectBuilder()
                .add("username", user.getUsername())
                .add("first_name", user.getFirstName())
                .add("last_name", user.getLastName())
                .add("email", withContact ? user.getEmail() : "")
                .add("id", user.getId().toString())
                .add("actor", user.isActor())
                .add("client", user.isClient())
                .add("message_endpoint", withContact ? user.getMessageEndpoint() : "");
        if (withToken) {
            json.add("token", user.getToken());
        }
        return json.build();
    }

    public static JsonObject group(Group group) {
        return Jsonp.createObjectBuilder().add("id", group.getId()).add("name", group.getName()).build();
    }
}
