package org.flserver.model;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.EntityPart;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.model.ModelFiles.ReceivedFile;
import org.flserver.platform.ApiException;
import org.flserver.platform.FormBodies;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Jsonp;
import org.flserver.platform.Uuids;
import org.flserver.tensor.WeightFiles;
import org.flserver.user.CurrentUser;

/**
 * {@code /api/models/} (api.md §5): upload, list, download, metadata (with stats read from the
 * weights) and delete; preprocessing upload and download; local updates and SWAG statistics of
 * participants — with the object-level authorisation of docs/api.md §15.2. Parsing and the mapping to JSON
 * happen here; storing and every permission decision belong to {@link ModelService} and, for
 * what participants send during a training, to the round's {@link ParticipantUploads}; the bytes
 * to {@link ModelFiles}, what a file must be to {@link WeightChecks}. Metrics live in
 * {@code org.flserver.metric.MetricResource}.
 *
 * <p>Uploads follow the reference's form semantics ({@link UploadForm}): a body that is not
 * multipart is read as the reference's Django reads it (a url-encoded form's fields, nothing from
 * any other body), so it gets the reference's 400 for the missing field or file. All fields are checked
 * before any byte of a file is kept; files are received into temp files, read by the
 * non-executing tensor reader, and committed to the store only when every one of them passed, so a
 * refused upload leaves no row and no file. Checks that need no file (who, which training, which
 * round) run before the file is read at all.
 */
@Path("models")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "models")
public class ModelResource {

    private static final Logger LOG = Logger.getLogger(ModelResource.class.getName());

    static final int MAX_NAME_LENGTH = 256;
    /** The {@code input_shape} column holds the JSON text of the shape. */
    static final int MAX_INPUT_SHAPE_TEXT = 1024;

    @Inject
    ModelService models;

    @Inject
    ParticipantUploads updates;

    @Inject
    ModelFiles files;

    @Inject
    CurrentUser caller;

    @Inject
    FormLimits formLimits;

    @Inject
    WeightCheckSlots checkSlots;

    @GET
    @Operation(summary = "Models related to the caller: own models (local ones included) and the models of"
            + " trainings the caller is actor or participant of")
    public JsonArray list() {
        return ModelJson.models(models.relatedModels(caller.id()));
    }

    @POST
    @BoundedUpload
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Upload a global (or SWAG) model: fields name, description, model_file,"
            + " optional model_preprocessing_file, input_shape (repeated), type, round")
    public Response upload(List<EntityPart> parts) {
        return upload(UploadForm.read(parts, formLimits));
    }

    @POST
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    public Response uploadUrlEncoded(InputStream body) {
        // a form without multipart has no file: the reference's 400s, not a 415
        return upload(UploadForm.urlEncoded(body));
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Operation(hidden = true)
    public Response uploadOther(@Context HttpHeaders headers) {
        // no body type at all reads as an empty form, as in Django; a body of another type is a 415
        if (headers.getMediaType() != null) {
            throw new NotSupportedException();
        }
        return upload(UploadForm.empty());
    }

    private Response upload(UploadForm form) {
        String type = modelType(form.text("type"));
        String name = required(form.text("name"), "name");
        String description = required(form.text("description"), "description");
        checkName(name);
        int round = round(form.text("round"));
        if (type.equals("MEAN")) {
            // as a form, the member ids are repeated "models" fields
            if (form.texts("models").isEmpty()) {
                throw ApiException.list(400, "Missing required field: models");
            }
            return created(models.createMean(caller.id(), name, description, round, form.texts("models")));
        }
        String inputShape = inputShape(form.texts("input_shape"));
        EntityPart modelFile = form.requiredFile("model_file");
        EntityPart preprocessingFile = form.file("model_preprocessing_file");
        try (ReceivedFile weights = receive(modelFile);
             ReceivedFile preprocessing = preprocessingFile == null ? null : receive(preprocessingFile)) {
            // both files are read by the non-executing reader before either is kept
            checkSlots.check(() -> {
                WeightChecks.model(weights.temp());
                if (preprocessing != null) {
                    WeightChecks.preprocessing(preprocessing.temp());
                }
            });
            StoredFile storedWeights = files.commit(weights);
            StoredFile storedPreprocessing = preprocessing == null ? null : files.commit(preprocessing);
            return created(models.create(caller.id(), new ModelUpload(type, name, description, round, inputShape,
                    storedWeights, storedPreprocessing)));
        }
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create a mean model (ensemble) from JSON: name, description, type MEAN, models [ids];"
            + " other types need a multipart upload")
    public Response uploadJson(InputStream body) {
        JsonObject json = JsonBodies.readObject(body);
        String type = modelType(json.get("type") instanceof JsonString s ? s.getString() : null);
        String name = required(jsonText(json, "name"), "name");
        String description = required(jsonText(json, "description"), "description");
        checkName(name);
        int round = jsonRound(json.get("round"));
        if (!type.equals("MEAN")) {
            throw noModelFile();
        }
        JsonValue members = json.get("models");
        if (members == null || members == JsonValue.NULL) {
            throw ApiException.list(400, "Missing required field: models");
        }
        if (!(members instanceof JsonArray array)
                || array.stream().anyMatch(v -> v.getValueType() != JsonValue.ValueType.STRING)) {
            throw ApiException.list(400, "Invalid type for field: models");
        }
        List<String> ids = array.getValuesAs(JsonString.class).stream().map(JsonString::getString).toList();
        return created(models.createMean(caller.id(), name, description, round, ids));
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.WILDCARD)
    @Operation(summary = "Download the model's weights file, byte for byte as stored")
    public Response download(@PathParam("id") String id) {
        Model model = models.visibleModel(Uuids.pathId(id, "Model"), caller.id());
        if (model instanceof MeanModel) {
            // The reference answers 200 with an empty body; an empty "model file" only breaks clients later.
            throw ApiException.badRequest("A mean model has no weights of its own; download its member models.");
        }
        String sha256 = model.getWeightsSha256();
        if (sha256 == null || !files.exists(sha256)) {
            throw ApiException.detail(500, "The weights file of model " + model.getId() + " is missing on the server.");
        }
        return Response.ok(files.path(sha256).toFile(), MediaType.APPLICATION_OCTET_STREAM_TYPE)
                .header("Content-Disposition", "filename=\"model-" + model.getId() + ".pt\"")
                .header(HttpHeaders.CONTENT_LENGTH, model.getWeightsSize())
                .build();
    }

    @GET
    @Path("{id}/metadata")
    @Operation(summary = "The model's JSON plus stats read from its weights file (tensors, shapes, dtypes,"
            + " parameter counts); null for mean models")
    public JsonObject metadata(@PathParam("id") String id) {
        Model model = models.visibleModel(Uuids.pathId(id, "Model"), caller.id());
        return ModelJson.metadata(model, stats(model));
    }

    @POST
    @Path("{id}/preprocessing")
    @BoundedUpload
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Upload (replace) the preprocessing module of a global model (owner only):"
            + " multipart model_preprocessing_file, TorchScript or torch.save of a module")
    public Response uploadPreprocessing(@PathParam("id") String id, List<EntityPart> parts) {
        UUID modelId = Uuids.pathId(id, "GlobalModel");
        // who may do it is decided before the file is read
        models.ownGlobalModel(modelId, caller.id());
        return uploadPreprocessing(modelId, UploadForm.read(parts, formLimits));
    }

    @POST
    @Path("{id}/preprocessing")
    @Consumes(MediaType.WILDCARD)
    @Operation(hidden = true)
    public Response uploadPreprocessingNoMultipart(@PathParam("id") String id, @Context HttpHeaders headers,
                                                   InputStream body) {
        UUID modelId = Uuids.pathId(id, "GlobalModel");
        models.ownGlobalModel(modelId, caller.id());
        return uploadPreprocessing(modelId, nonMultipart(headers, body));
    }

    private Response uploadPreprocessing(UUID modelId, UploadForm form) {
        EntityPart file = form.requiredFile("model_preprocessing_file");
        try (ReceivedFile received = receive(file)) {
            checkSlots.check(() -> WeightChecks.preprocessing(received.temp()));
            models.setPreprocessing(modelId, caller.id(), files.commit(received));
        }
        // 202 and the typo are the reference's contract
        return Response.status(202).entity(Jsonp.createObjectBuilder()
                .add("detail", "Proprocessing Model Upload Accepted").build()).build();
    }

    @GET
    @Path("{id}/preprocessing")
    @Produces(MediaType.WILDCARD)
    @Operation(summary = "Download the preprocessing module (for a local model: its base model's); 404 when none")
    public Response downloadPreprocessing(@PathParam("id") String id) {
        UUID modelId = Uuids.pathId(id, "Model");
        String sha256 = models.preprocessingOf(modelId, caller.id());
        if (!files.exists(sha256)) {
            throw ApiException.detail(500, "The preprocessing file of model " + modelId + " is missing on the server.");
        }
        java.nio.file.Path path = files.path(sha256);
        return Response.ok(path.toFile(), MediaType.APPLICATION_OCTET_STREAM_TYPE)
                .header("Content-Disposition", "filename=\"model-" + modelId + "-proprecessing.pt\"")
                .header(HttpHeaders.CONTENT_LENGTH, path.toFile().length())
                .build();
    }

    @POST
    @Path("{id}")
    @BoundedUpload
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Upload a participant's local update of a global model for the current round: multipart"
            + " model_file, round, sample_size, optional metric_names/metric_values (repeated)")
    public Response uploadUpdate(@PathParam("id") String id, List<EntityPart> parts) {
        return uploadUpdate(id, UploadForm.read(parts, formLimits));
    }

    @POST
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(hidden = true)
    public Response uploadUpdateNoMultipart(@PathParam("id") String id, @Context HttpHeaders headers,
                                            InputStream body) {
        return uploadUpdate(id, nonMultipart(headers, body));
    }

    private Response uploadUpdate(String id, UploadForm form) {
        // api.md §5.7, in the reference's order
        RoundAndSize fields = RoundAndSize.of(form);
        int round = fields.round();
        int sampleSize = fields.sampleSize();
        EntityPart file = form.requiredFile("model_file");
        // the metrics are counted and parsed before any database work
        updates.checkUpdateFields(form);
        UUID globalId = Uuids.pathId(id, "GlobalModel");
        StoredFile global = updates.checkLocalUpdate(globalId, caller.id(), round);
        try (ReceivedFile received = receive(file)) {
            checkSlots.check(() -> WeightChecks.update(received.temp(), WeightChecks.stored(files.path(global.sha256()))));
            // stored before the transaction: content-addressed, so a refused insert leaves a harmless file
            StoredFile stored = files.commit(received);
            updates.storeLocalUpdate(globalId, caller.id(), round, sampleSize, stored, form);
        }
        return Response.status(201).entity(Jsonp.createObjectBuilder()
                .add("detail", "Model Update Accepted").build()).build();
    }

    @POST
    @Path("{id}/swag")
    @BoundedUpload
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Upload a participant's SWAG statistics for the current SWAG round: multipart round,"
            + " sample_size, first_moment_file, second_moment_file (each one 1-D float tensor)")
    public Response uploadSwagStatistics(@PathParam("id") String id, List<EntityPart> parts) {
        return uploadSwagStatistics(id, UploadForm.read(parts, formLimits));
    }

    @POST
    @Path("{id}/swag")
    @Consumes(MediaType.WILDCARD)
    @Operation(hidden = true)
    public Response uploadSwagStatisticsNoMultipart(@PathParam("id") String id, @Context HttpHeaders headers,
                                                    InputStream body) {
        return uploadSwagStatistics(id, nonMultipart(headers, body));
    }

    private Response uploadSwagStatistics(String id, UploadForm form) {
        RoundAndSize fields = RoundAndSize.of(form);
        int round = fields.round();
        int sampleSize = fields.sampleSize();
        EntityPart firstFile = form.requiredFile("first_moment_file");
        EntityPart secondFile = form.requiredFile("second_moment_file");
        UUID globalId = Uuids.pathId(id, "GlobalModel");
        StoredFile global = updates.checkSwagStatistics(globalId, caller.id(), round);
        try (ReceivedFile first = receive(firstFile); ReceivedFile second = receive(secondFile)) {
            checkSlots.check(() -> {
                Set<Long> lengths = WeightChecks.momentLengths(WeightChecks.stored(files.path(global.sha256())));
                long length = WeightChecks.moment(first.temp(), "first moment", lengths);
                WeightChecks.moment(second.temp(), "second moment", Set.of(length));
            });
            StoredFile storedFirst = files.commit(first);
            StoredFile storedSecond = files.commit(second);
            updates.storeSwagStatistics(globalId, caller.id(), round, sampleSize, storedFirst, storedSecond);
        }
        return Response.status(201).entity(Jsonp.createObjectBuilder()
                .add("detail", "SWAG Statistic Accepted").build()).build();
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "Delete a model (owner, or actor of its training); a global model takes its training,"
            + " local models and metrics with it")
    public JsonObject delete(@PathParam("id") String id) {
        models.delete(Uuids.pathId(id, "Model"), caller.id());
        return Jsonp.createObjectBuilder().add("detail", "Model removed!").build();
    }

    /**
     * The {@code stats} of a model's metadata, read from its weights file (with {@code input_size}
     * from a global model's {@code input_shape}); null for a mean model (no weights of its own) and
     * when the file cannot be read (logged, as the reference does).
     */
    private JsonValue stats(Model model) {
        String sha256 = model.getWeightsSha256();
        if (model instanceof MeanModel || sha256 == null) {
            return JsonValue.NULL;
        }
        try {
            JsonValue inputShape = model instanceof GlobalModel global ? ModelJson.inputShape(global.getInputShape())
                    : JsonValue.NULL;
            return ModelStats.of(checkSlots.check(() -> WeightFiles.open(files.path(sha256))), inputShape);
        } catch (ApiException busy) {
            throw busy; // no free slot to read the file in: 503, not stats of null
        } catch (IOException | RuntimeException e) {
            LOG.warning("no stats for model " + model.getId() + ": " + e.getMessage());
            return JsonValue.NULL;
        }
    }

    /**
     * {@code round} and {@code sample_size} of an update or SWAG upload (docs/api.md §5.7 step 1): both present
     * (else the reference's KeyError text, e.g. {@code 'round'}), then both integers; a round of
     * another value is refused later, as the reference does, a negative sample size here.
     */
    private record RoundAndSize(int round, int sampleSize) {
        static RoundAndSize of(UploadForm form) {
            // both present before either is parsed, as the reference reads them
            form.required("round");
            form.required("sample_size");
            return new RoundAndSize(form.integer("round", Integer.MIN_VALUE), form.integer("sample_size", 0));
        }
    }

    /**
     * The body of a request to a multipart route that is not multipart: the reference reads its
     * fields from Django's {@code request.POST}, which holds the fields of a url-encoded form and
     * nothing for any other body (JSON, none), so such a request gets the same 400 as a form
     * without the missing field or file, never a 415.
     */
    private static UploadForm nonMultipart(HttpHeaders headers, InputStream body) {
        MediaType type = headers.getMediaType();
        if (type != null && type.isCompatible(MediaType.APPLICATION_FORM_URLENCODED_TYPE)) {
            return UploadForm.urlEncoded(body);
        }
        return UploadForm.empty();
    }

    private ReceivedFile receive(EntityPart part) {
        try (InputStream in = part.getContent()) {
            return files.receive(in, files.maxUploadBytes());
        } catch (IOException e) {
            throw ApiException.badRequest("The uploaded file could not be read completely.");
        }
    }

    private static Response created(Model model) {
        return Response.status(201).entity(Jsonp.createObjectBuilder()
                .add("detail", "Model Upload Accepted")
                .add("model_id", model.getId().toString()).build()).build();
    }

    private static ApiException noModelFile() {
        return ApiException.detail(400, "No uploaded file 'model_file' found.");
    }

    /** GLOBAL unless SWAG or MEAN: the reference treats any other value as GLOBAL. */
    private static String modelType(String type) {
        return "SWAG".equals(type) || "MEAN".equals(type) ? type : "GLOBAL";
    }

    private static String required(String value, String field) {
        if (value == null) {
            throw ApiException.list(400, "Missing required field: " + field);
        }
        return value;
    }

    private static void checkName(String name) {
        if (name.length() > MAX_NAME_LENGTH) {
            throw ApiException.list(400, "Field name is too long: at most " + MAX_NAME_LENGTH + " characters.");
        }
    }

    private static String jsonText(JsonObject json, String field) {
        JsonValue value = json.get(field);
        if (value == null || value == JsonValue.NULL) {
            return null;
        }
        if (!(value instanceof JsonString s)) {
            throw ApiException.list(400, "Invalid type for field: " + field);
        }
        return s.getString();
    }

    private static int round(String text) {
        if (text == null) {
            return 0;
        }
        try {
            return checkRound(new BigInteger(text.trim()));
        } catch (NumberFormatException e) {
            throw badRound();
        }
    }

    private static int jsonRound(JsonValue value) {
        if (value == null || value == JsonValue.NULL) {
            return 0;
        }
        if (value instanceof JsonNumber n && n.isIntegral()) {
            return checkRound(n.bigIntegerValue());
        }
        if (value instanceof JsonString s) {
            return round(s.getString());
        }
        throw badRound();
    }

    private static int checkRound(BigInteger round) {
        if (round.signum() < 0 || round.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
            throw badRound();
        }
        return round.intValue();
    }

    private static ApiException badRound() {
        return ApiException.badRequest("Invalid round: must be an integer from 0 to " + Integer.MAX_VALUE + ".");
    }

    /**
     * The repeated {@code input_shape} field as JSON text: {@code None}/{@code null} entries are free
     * dimensions, the others integers ≥ 1; no entries → no shape. (The reference answers 500 to
     * anything else; here it is a 400.)
     */
    static String inputShape(List<String> entries) {
        if (entries.isEmpty()) {
            return null;
        }
        JsonArrayBuilder shape = Jsonp.createArrayBuilder();
        for (String entry : entries) {
            String text = entry.trim();
            if (text.equals("None") || text.equals("null")) {
                shape.addNull();
                continue;
            }
            int dimension;
            try {
                dimension = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                dimension = 0;
            }
            if (dimension < 1) {
                throw ApiException.badRequest("Invalid input_shape entry '" + FormBodies.abbreviate(entry)
                        + "': expected an integer ≥ 1, None or null.");
            }
            shape.add(dimension);
        }
        String json = shape.build().toString();
        if (json.length() > MAX_INPUT_SHAPE_TEXT) {
            throw ApiException.badRequest("Invalid input_shape: too many dimensions.");
        }
        return json;
    }

}
