package org.flserver.user;

import jakarta.enterprise.context.RequestScoped;
import java.util.UUID;

/**
 * The authenticated caller of the current request, set by {@link AuthenticationFilter}. Resources
 * pass its id to services, which load what they need in their own transaction.
 */
@RequestScoped
public class CurrentUser {

    private UUID id;

    public UUID id() {
        if (id == null) {
            throw new IllegalStateException("no authenticated user in this request");
        }
        return id;
    }

    void set(UUID id) {
        this.id = id;
    }

    public boolean isPresent() {
        return id != null;
    }
}
