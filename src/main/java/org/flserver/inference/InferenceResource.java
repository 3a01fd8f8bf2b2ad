package org.flserver.inference;

import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.EntityPart;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.model.BoundedUpload;
import org.flserver.model.UploadForm;
import org.flserver.model.WeightCheckSlots;
import org.flserver.platform.ApiException;
import org.flserver.platform.JsonBodies;
import org.flserver.platform.Uuids;
import org.flserver.tensor.pytorch.TorchSaveWriter;
import org.flserver.user.CurrentUser;

/**
 * {@code POST /api/inference/} (api.md §10 with §15): a prediction with the uncertainty method of
 * the model's training. JSON requests ({@code model_id}, {@code model_input}, {@code return_format},
 * default json) and multipart requests ({@code model_input} as a file or a value, default binary);
 * any other content type is the reference's 415. Checks run in the reference's order: model,
 * return format, input; then the input is decoded without executing anything and the model runs.
 */
@Path("inference")
@Tag(name = "inference")
public class InferenceResource {

    /** The largest {@code model_input} part of a multipart request that is read into memory. */
    static final int MAX_INPUT_BYTES = 64 << 20;

    @Inject
    InferenceService service;

    @Inject
    InferenceRunner runner;

    @Inject
    CurrentUser caller;

    @Inject
    WeightCheckSlots checkSlots;

    @Inject
    ClientDisconnects disconnects;

    @Context
    HttpServletRequest http;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Operation(summary = "Predict with uncertainty: JSON {model_id, model_input (nested lists or base64 of a"
            + " tensor file or image), return_format json|binary (default json)}")
    public Response inferJson(InputStream body) {
        // streamed: model_input's lists go straight into floats, counted as they come (inference.md §5)
        JsonInferenceRequest json = JsonInferenceRequest.read(body, JsonBodies.MAX_INFERENCE_JSON_BYTES);
        UUID modelId = modelId(json.modelId());
        InferencePlan plan = service.plan(modelId, caller.id());
        String format = returnFormat(json.returnFormat(), "json");
        if (json.input() == null) {
            throw noInput();
        }
        Tensor tensor;
        try {
            tensor = json.input().decode();
        } catch (ModelInputs.BadInput e) {
            throw ApiException.list(400, e.getMessage());
        }
        return answer(plan, tensor, format);
    }

    @POST
    // model_input may be a form value as large as a file; it is bounded by MAX_INPUT_BYTES below
    @BoundedUpload(largeFields = "model_input")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Operation(summary = "Predict with uncertainty: multipart model_id, model_input (a torch.save'd tensor, an"
            + " image, base64 of either, or nested lists as JSON text), return_format json|binary (default binary)")
    public Response inferMultipart(List<EntityPart> parts) {
        String modelId = null;
        String format = null;
        byte[] input = null;
        for (EntityPart part : parts) {
            UploadForm.requireContentDisposition(part); // without it the part has no name to switch on
            switch (part.getName()) {
                case "model_id" -> modelId = new String(read(part, 1024), StandardCharsets.UTF_8).strip();
                case "return_format" -> format = new String(read(part, 1024), StandardCharsets.UTF_8).strip();
                case "model_input" -> input = read(part, MAX_INPUT_BYTES);
                default -> {
                    // other fields are ignored, as form fields are by the reference
                }
            }
        }
        InferencePlan plan = service.plan(modelId(modelId), caller.id());
        String checkedFormat = returnFormat(format, "binary");
        if (input == null) {
            throw noInput();
        }
        Tensor tensor;
        try {
            byte[] bytes = input;
            tensor = checkSlots.check(() -> ModelInputs.fromBytes(bytes));
        } catch (ModelInputs.BadInput bytesFailed) {
            tensor = jsonText(input, bytesFailed);
        }
        return answer(plan, tensor, checkedFormat);
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Any other content type: 415")
    public Response unsupported() {
        throw ApiException.detail(415, "Unsupported media type \"Only Content-Type 'application/json' and"
                + " 'multipart/form-data' is supported.\" in request.");
    }

    private Response answer(InferencePlan plan, Tensor input, String format) {
        Uncertainty.Result result;
        try {
            result = runner.run(plan, input, caller.id(),
                    disconnects.watch(http.getRemoteAddr(), http.getRemotePort(), http.getLocalPort()));
        } catch (InferenceException e) {
            if (InferenceRunner.SHAPE_MISMATCH.equals(e.getMessage())) {
                throw ApiException.list(400, e.getMessage());
            }
            throw ApiException.detail(e.status(), e.getMessage());
        }
        if (format.equals("binary")) {
            TorchSaveWriter.Archive archive = InferenceOutput.binary(result);
            StreamingOutput body = archive::writeTo;
            return Response.ok(body, MediaType.APPLICATION_OCTET_STREAM_TYPE)
                    .header(HttpHeaders.CONTENT_LENGTH, archive.size())
                    .header("Content-Disposition", "attachment; filename=\"inference.pt\"").build();
        }
        StreamingOutput json = out -> InferenceOutput.writeJson(result, out);
        return Response.ok(json, MediaType.APPLICATION_JSON_TYPE).build();
    }

    /** A form value that is no file may still be nested lists as JSON text. */
    private static Tensor jsonText(byte[] input, ModelInputs.BadInput bytesFailed) {
        String text = new String(input, StandardCharsets.UTF_8).strip();
        if (text.startsWith("[")) {
            // streamed under the limits of every JSON body; any refusal is the reference's "no tensor"
            try {
                return JsonInferenceRequest.lists(text);
            } catch (ApiException | ModelInputs.BadInput e) {
                throw ApiException.list(400, ModelInputs.NOT_A_TENSOR);
            }
        }
        throw ApiException.list(400, bytesFailed.getMessage());
    }

    private static UUID modelId(String text) {
        if (text == null) {
            throw ApiException.list(400, "No 'model_id' provided in request.");
        }
        UUID id = Uuids.parseOrNull(text);
        if (id == null) {
            throw ApiException.notFound("Model", text);
        }
        return id;
    }

    private static String returnFormat(String format, String defaultFormat) {
        String f = format == null ? defaultFormat : format;
        if (!f.equals("json") && !f.equals("binary")) {
            throw ApiException.list(400, "Unknown return format '" + f + "'. Supported are binary and json.");
        }
        return f;
    }

    private static ApiException noInput() {
        return ApiException.list(400, "No uploaded file 'model_input' found.");
    }

    private static byte[] read(EntityPart part, int limit) {
        try (InputStream in = part.getContent()) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw ApiException.detail(413, "The field " + part.getName() + " is too large: at most " + limit
                        + " bytes.");
            }
            return bytes;
        } catch (IOException e) {
            throw ApiException.badRequest("The request could not be read completely.");
        }
    }
}
