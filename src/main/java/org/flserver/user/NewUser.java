package org.flserver.user;

/** What {@code POST /api/users/} asks for, already checked field by field. */
public record NewUser(String username, String password, String firstName, String lastName, String email,
                      boolean actor, boolean client, String messageEndpoint) {
}
