package org.flserver.training;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.user.CurrentUser;

/**
 * {@code GET /api/users/trainings/} (api.md §3): the reference puts the caller's trainings under
 * the users' URL, but they are trainings, and serving them from {@code user} would make the user
 * package depend on the training package above it. JAX-RS picks the root resource with the
 * longest literal path, so this class answers exactly {@code users/trainings} (with or without the
 * trailing slash) and {@code UserResource} everything else under {@code users}.
 */
@Path("users/trainings")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "users")
public class MemberTrainingsResource {

    @Inject
    TrainingService trainings;

    @Inject
    CurrentUser caller;

    @GET
    @Operation(summary = "The trainings the authenticated user runs as actor or takes part in")
    public JsonArray trainings() {
        return TrainingJson.trainings(trainings.ofMember(caller.id()));
    }
}
