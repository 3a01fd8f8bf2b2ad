package org.flserver.user;

import jakarta.enterprise.context.RequestScoped;
import java.util.UUID;

/**
 * The authenticated caller of the current request, set by {@link AuthenticationFilter}. Resources
 * pass its id to services, which load what they need in their own transaction. The user as read
 * during authentication is kept too (detached), so that {@code GET /users/myself/} — the web
 * frontend's login check, called on every page — needs no second query.
 */
@RequestScoped
public class CurrentUser {

    private User user;

    public UUID id() {
        return user().getId();
    }

    /** The caller as read when the request was authenticated. */
    public User user() {
        if (user == null) {
            throw new IllegalStateException("no authenticated user in this request");
        }
        return user;
    }

    void set(User user) {
        this.user = user;
    }

    public boolean isPresent() {
        return user != null;
    }
}
