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
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.EntityPart;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.model.ModelFiles.ReceivedFile;
import org.flserver.platform.ApiException;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Jsonp;
import org.flserver.platform.Uuids;
import org.flserver.user.CurrentUser;

/**
 * {@code /api/models/}: upload, list, download, metadata and delete (api.md §5.1–5.4), with the
 * object-level authorisation of §15.2. Parsing and the mapping to JSON happen here; storing and
 * every permission decision belong to {@link ModelService}, the bytes to {@link ModelFiles}.
 *
 * <p>Uploads follow the reference's form semantics (Django): a part with a file name is a file,
 * anything else a text field; repeated fields are lists ({@code input_shape}); for single fields
 * the last occurrence wins. All fields are checked before any byte of a file is kept, and both
 * files are received before either is stored, so a refused upload leaves no row and no file.
 */
@Path("models")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "models")
public class ModelResource {

    /** Largest text field of an upload form (a description, say); files have their own limit. */
    static final int MAX_FIELD_BYTES = 64 * 1024;
    static final int MAX_NAME_LENGTH = 256;
    /** The {@code input_shape} column holds the JSON text of the shape. */
    static final int MAX_INPUT_SHAPE_TEXT = 1024;

    @Inject
    ModelService models;

    @Inject
    ModelFiles files;

    @Inject
    CurrentUser caller;

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
        Form form = Form.read(parts);
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
        EntityPart modelFile = form.file("model_file");
        if (modelFile == null) {
            throw noModelFile();
        }
        EntityPart preprocessingFile = form.file("model_preprocessing_file");
        try (ReceivedFile weights = receive(modelFile);
             ReceivedFile preprocessing = preprocessingFile == null ? null : receive(preprocessingFile)) {
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
    @Operation(summary = "The model's JSON plus stats (always null: no model summary is computed)")
    public JsonObject metadata(@PathParam("id") String id) {
        return ModelJson.metadata(models.visibleModel(Uuids.pathId(id, "Model"), caller.id()));
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "Delete a model (owner, or actor of its training); a global model takes its training,"
            + " local models and metrics with it")
    public JsonObject delete(@PathParam("id") String id) {
        models.delete(Uuids.pathId(id, "Model"), caller.id());
        return Jsonp.createObjectBuilder().add("detail", "Model removed!").build();
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
                throw ApiException.badRequest("Invalid input_shape entry '" + abbreviate(entry)
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

    private static String abbreviate(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }

    /** The parts of a form, split Django-style into text fields and files. */
    private record Form(Map<String, List<String>> texts, Map<String, EntityPart> files) {

        static Form read(List<EntityPart> parts) {
            Map<String, List<String>> texts = new HashMap<>();
            Map<String, EntityPart> files = new HashMap<>();
            for (EntityPart part : parts) {
                if (part.getFileName().isPresent()) {
                    files.put(part.getName(), part);
                } else {
                    texts.computeIfAbsent(part.getName(), k -> new ArrayList<>()).add(readText(part));
                }
            }
            return new Form(texts, files);
        }

        String text(String name) {
            List<String> values = texts.get(name);
            return values == null ? null : values.get(values.size() - 1);
        }

        List<String> texts(String name) {
            return texts.getOrDefault(name, List.of());
        }

        EntityPart file(String name) {
            return files.get(name);
        }

        private static String readText(EntityPart part) {
            try (InputStream in = part.getContent()) {
                byte[] bytes = in.readNBytes(MAX_FIELD_BYTES + 1);
                if (bytes.length > MAX_FIELD_BYTES) {
                    throw ApiException.badRequest("Field '" + abbreviate(part.getName()) + "' is too long: at most "
                            + MAX_FIELD_BYTES + " bytes.");
                }
                return new String(bytes, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw ApiException.badRequest("The form field '" + abbreviate(part.getName())
                        + "' could not be read.");
            }
        }
    }
}
