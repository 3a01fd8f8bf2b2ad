package org.flserver.user;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.platform.ApiException;
import org.flserver.platform.FormBodies;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Jsonp;
import org.flserver.platform.RequestFields;

/**
 * {@code /api/groups/} (api.md §4). Group ids are integers: a non-integer id answers the JSON 404,
 * as the reference's {@code <int:id>} route does (its route does not match).
 */
@Path("groups")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "groups")
public class GroupResource {

    /** A plain template: a regular expression here would leak into the OpenAPI paths. */
    private static final String ID = "{id}";

    @Inject
    GroupService groups;

    @Inject
    CurrentUser caller;

    @GET
    @Operation(summary = "All groups (superusers only)")
    public JsonArray list() {
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        groups.all(caller.id()).forEach(g -> out.add(UserJson.group(g)));
        return out.build();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create a group")
    public Response create(InputStream body) {
        String name = name(JsonBodies.readObject(body));
        return Response.status(201).entity(UserJson.group(groups.create(name))).build();
    }

    @POST
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(summary = "Create a group from form fields")
    public Response createFromForm(InputStream body) {
        // read by us, not bound by the runtime: bounded and always UTF-8 (FormBodies says why)
        var json = Jsonp.createObjectBuilder();
        FormBodies.urlEncoded(body).forEach((key, values) -> json.add(key, values.get(values.size() - 1)));
        String name = name(json.build());
        return Response.status(201).entity(UserJson.group(groups.create(name))).build();
    }

    @GET
    @Path(ID)
    @Operation(summary = "A group (members only)")
    public JsonObject get(@PathParam("id") String id) {
        return UserJson.group(groups.get(caller.id(), groupId(id)));
    }

    @PUT
    @Path(ID)
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Rename a group (members only)")
    public JsonObject update(@PathParam("id") String id, InputStream body) {
        String name = name(JsonBodies.readObject(body));
        return UserJson.group(groups.rename(caller.id(), groupId(id), name));
    }

    @PATCH
    @Path(ID)
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Rename a group (members only)")
    public JsonObject patch(@PathParam("id") String id, InputStream body) {
        JsonObject json = JsonBodies.readObject(body);
        // a partial update, as DRF's: without a name it changes nothing and answers the group
        if (!json.containsKey("name")) {
            return get(id);
        }
        return UserJson.group(groups.rename(caller.id(), groupId(id), name(json)));
    }

    @DELETE
    @Path(ID)
    @Operation(summary = "Delete a group (members only)")
    public Response delete(@PathParam("id") String id) {
        groups.delete(caller.id(), groupId(id));
        return Response.noContent().build();
    }

    /** Group ids are integers; anything else is no route at all, as in the reference (JSON 404). */
    private static long groupId(String text) {
        if (!text.matches("[0-9]{1,18}")) {
            throw ApiException.detail(404, "Not found.");
        }
        return Long.parseLong(text);
    }

    private static String name(JsonObject body) {
        // a DRF serializer: its wording, and other keys are ignored
        RequestFields fields = new RequestFields(body, RequestFields.Wording.DRF, false, "name");
        String name = fields.string("name", true, 150);
        if (name != null && name.isBlank()) {
            fields.error("name", "This field may not be blank.");
        }
        fields.check();
        return name;
    }
}
