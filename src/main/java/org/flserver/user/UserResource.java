package org.flserver.user;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirements;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.platform.Anonymous;
import org.flserver.platform.FormBodies;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Jsonp;
import org.flserver.platform.RequestFields;
import org.flserver.platform.Uuids;

/**
 * {@code /api/users/}: sign-up (anonymous) and reading users (api.md §3). The caller's trainings,
 * {@code /api/users/trainings/}, are served by {@code org.flserver.training.MemberTrainingsResource}.
 */
@Path("users")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "users")
public class UserResource {

    private static final Pattern USERNAME = Pattern.compile("[\\w.@+-]+");
    private static final Pattern EMAIL = Pattern.compile("[^@\\s]+@[^@\\s]+");

    @Inject
    UserService users;

    @Inject
    CurrentUser caller;

    @Inject
    MessageEndpointRule endpoints;

    @Inject
    PasswordGuard guard;

    @Context
    HttpServletRequest request;

    @POST
    @Anonymous
    @SecurityRequirements
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create a user (no authentication); the answer includes the user's API token")
    public Response create(InputStream body) {
        return created(JsonBodies.readObject(body));
    }

    @POST
    @Anonymous
    @SecurityRequirements
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(summary = "Create a user from form fields")
    public Response createFromForm(InputStream body) {
        // read by us, not bound by the runtime: bounded and always UTF-8 (FormBodies says why)
        JsonObjectBuilder json = Jsonp.createObjectBuilder();
        for (Map.Entry<String, List<String>> field : FormBodies.urlEncoded(body).entrySet()) {
            String value = field.getValue().get(field.getValue().size() - 1);
            if (field.getKey().equals("actor") || field.getKey().equals("client")) {
                String v = value.trim().toLowerCase();
                json.add(field.getKey(), switch (v) {
                    case "true", "1", "on", "yes" -> JsonValue.TRUE;
                    case "false", "0", "off", "no", "" -> JsonValue.FALSE;
                    default -> Jsonp.createValue(value);
                });
            } else {
                json.add(field.getKey(), value);
            }
        }
        return created(json.build());
    }

    private Response created(JsonObject body) {
        // DRF's wording (the reference's user serializer); unknown keys are refused, since the
        // reference would pass them to the database and fail
        RequestFields fields = new RequestFields(body, RequestFields.Wording.DRF, true, "username", "password",
                "first_name", "last_name", "email", "actor", "client", "message_endpoint");
        String username = fields.string("username", true, 150);
        if (username != null && !USERNAME.matcher(username).matches()) {
            fields.error("username",
                    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
        }
        String password = fields.string("password", true, 4096);
        if (password != null && password.isEmpty()) {
            fields.error("password", "This field may not be blank.");
        }
        String firstName = fields.string("first_name", false, 150);
        String lastName = fields.string("last_name", false, 150);
        String email = fields.string("email", false, 254);
        if (email != null && !email.isEmpty() && !EMAIL.matcher(email).matches()) {
            fields.error("email", "Enter a valid email address.");
        }
        Boolean actor = fields.bool("actor");
        Boolean client = fields.bool("client");
        String endpoint = fields.string("message_endpoint", false, 2048);
        if (endpoint != null && !endpoint.isEmpty()) {
            endpoints.problem(endpoint).ifPresent(problem -> fields.error("message_endpoint", problem));
        }
        fields.check();
        // a well-formed sign-up counts against the sign-up limits, before its password is hashed
        guard.countSignUp(guard.clientAddress(request));
        User user = users.create(new NewUser(username, password, orEmpty(firstName), orEmpty(lastName),
                orEmpty(email), Boolean.TRUE.equals(actor), Boolean.TRUE.equals(client), orEmpty(endpoint)));
        return Response.status(201).entity(UserJson.created(user)).build();
    }

    @GET
    @Operation(summary = "List all users (without tokens; e-mail and message endpoint only for oneself, "
            + "or for superusers)")
    public JsonArray list() {
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        User me = caller.user();
        users.all().forEach(u -> out.add(UserJson.listed(u, me)));
        return out.build();
    }

    @GET
    @Path("myself")
    @Operation(summary = "The authenticated user (the web frontend's login check)")
    public JsonObject myself() {
        return UserJson.myself(caller.user());
    }

    @GET
    @Path("groups")
    @Operation(summary = "The groups the authenticated user belongs to")
    public JsonArray groups() {
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        users.groupsOf(caller.id()).forEach(g -> out.add(UserJson.group(g)));
        return out.build();
    }

    @GET
    @Path("{id}")
    @Operation(summary = "A user by id; the token is included only for the caller's own record, e-mail and "
            + "message endpoint also for superusers")
    public JsonObject get(@PathParam("id") String id) {
        UUID userId = Uuids.pathId(id, "User");
        return UserJson.user(users.get(userId), caller.user());
    }

    private static String orEmpty(String value) {
        return value == null ? "" : value;
    }
}
