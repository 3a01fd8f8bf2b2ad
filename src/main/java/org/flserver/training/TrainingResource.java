package org.flserver.training;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.model.ModelJson;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Jsonp;
import org.flserver.platform.RequestFields;
import org.flserver.platform.Uuids;
import org.flserver.round.ProvenanceJson;
import org.flserver.user.CurrentUser;

/**
 * {@code /api/trainings/} (api.md §6): parses the JSON bodies into typed requests, with the
 * reference server's field-error shape for bad input, and leaves every decision (ownership,
 * participants, state) to {@link TrainingService}.
 */
@Path("trainings")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "trainings")
public class TrainingResource {

    /** {@code target_num_updates} is an int32 column; negative targets make no sense. */
    private static final long MAX_TARGET = Integer.MAX_VALUE;

    @Inject
    TrainingService trainings;

    @Inject
    CurrentUser caller;

    @GET
    @Operation(summary = "The trainings the caller runs as actor")
    public JsonArray list() {
        return TrainingJson.trainings(trainings.ofActor(caller.id()));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create a training on a global model the caller owns (the model is copied if it already has a training)")
    public Response create(InputStream body) {
        RequestFields fields = new RequestFields(JsonBodies.readObject(body), "model_id", "target_num_updates",
                "metric_names", "aggregation_method", "uncertainty_method", "options", "clients");
        UUID modelId = fields.uuid("model_id", true);
        Integer target = fields.integer("target_num_updates", true, 0, MAX_TARGET);
        List<String> metricNames = fields.strings("metric_names", true, 256);
        String aggregation = fields.choice("aggregation_method", true, AggregationMethod.valuesAsText());
        String uncertainty = fields.choice("uncertainty_method", false, UncertaintyMethod.valuesAsText());
        JsonObject options = fields.object("options");
        List<UUID> clients = fields.uuids("clients", false);
        fields.check();
        Training training = trainings.create(caller.id(), new NewTraining(modelId, target, metricNames,
                AggregationMethod.fromValue(aggregation),
                uncertainty == null ? null : UncertaintyMethod.fromValue(uncertainty), options, clients));
        return Response.status(201).entity(Jsonp.createObjectBuilder()
                .add("detail", "Training created successfully!")
                .add("training_id", training.getId().toString()).build()).build();
    }

    @GET
    @Path("{id}")
    @Operation(summary = "A training with the progress of its current round (actor and participants)")
    public JsonObject get(@PathParam("id") String id) {
        return TrainingJson.detail(trainings.detail(caller.id(), trainingId(id)));
    }

    @GET
    @Path("{id}/models")
    @Operation(summary = "The training's global model and its local models (for its actor, participants and"
            + " model owner; others get [])")
    public JsonArray models(@PathParam("id") String id) {
        return ModelJson.models(trainings.models(caller.id(), trainingId(id), false));
    }

    @GET
    @Path("{id}/models/latest")
    @Operation(summary = "The training's global model and each participant's newest local model")
    public JsonArray latestModels(@PathParam("id") String id) {
        return ModelJson.models(trainings.models(caller.id(), trainingId(id), true));
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "Delete a training (actor only); its model is kept")
    public JsonObject delete(@PathParam("id") String id) {
        trainings.delete(caller.id(), trainingId(id));
        return detail("Training removed!");
    }

    @PUT
    @Path("{id}/clients")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Register users as participants (actor only)")
    public Response addClients(@PathParam("id") String id, InputStream body) {
        UUID trainingId = trainingId(id);
        trainings.addParticipants(caller.id(), trainingId, clients(body));
        return Response.status(202).entity(detail("Users registered as participants!")).build();
    }

    @DELETE
    @Path("{id}/clients")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Remove users from the participants (actor only)")
    public JsonObject removeClients(@PathParam("id") String id, InputStream body) {
        UUID trainingId = trainingId(id);
        trainings.removeParticipants(caller.id(), trainingId, clients(body));
        return detail("Users removed from training participants!");
    }

    @POST
    @Path("{id}/start")
    @Operation(summary = "Start a training in state I that has participants (actor only); the body is ignored")
    public Response start(@PathParam("id") String id) {
        trainings.start(caller.id(), trainingId(id));
        return Response.status(202).entity(detail("Training started!")).build();
    }

    @GET
    @Path("{id}/provenance")
    @Operation(summary = "fl-server addition: every version of the training's global model, oldest first, with the"
            + " updates (owner, round, sample size, weight, file hash) each aggregation used (actor and participants)")
    public JsonArray provenance(@PathParam("id") String id) {
        return ProvenanceJson.history(trainings.provenance(caller.id(), trainingId(id)));
    }

    private static UUID trainingId(String id) {
        return Uuids.pathId(id, "Training");
    }

    private static List<UUID> clients(InputStream body) {
        RequestFields fields = new RequestFields(JsonBodies.readObject(body), "clients");
        List<UUID> clients = fields.uuids("clients", true);
        fields.check();
        return clients;
    }

    private static JsonObject detail(String text) {
        return Jsonp.createObjectBuilder().add("detail", text).build();
    }
}
