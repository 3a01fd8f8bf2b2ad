package org.flserver.user;

import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import org.flserver.platform.Jsonp;

/** The API's user and group JSON (api.md §3, §4). The token appears only for the caller's own record. */
public final class UserJson {

    private UserJson() {
    }

    public static JsonObject user(User user, boolean withToken) {
        JsonObjectBuilder json = Jsonp.createObjectBuilder()
                .add("username", user.getUsername())
                .add("first_name", user.getFirstName())
                .add("last_name", user.getLastName())
                .add("email", user.getEmail())
                .add("id", user.getId().toString())
                .add("actor", user.isActor())
                .add("client", user.isClient())
                .add("message_endpoint", user.getMessageEndpoint());
        if (withToken) {
            json.add("token", user.getToken());
        }
        return json.build();
    }

    public static JsonObject group(Group group) {
        return Jsonp.createObjectBuilder().add("id", group.getId()).add("name", group.getName()).build();
    }
}
