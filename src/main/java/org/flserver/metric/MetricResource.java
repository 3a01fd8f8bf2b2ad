package org.flserver.metric;

import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.EntityPart;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.flserver.model.BoundedUpload;
import org.flserver.model.FormLimits;
import org.flserver.model.UploadForm;
import org.flserver.platform.ApiException;
import org.flserver.platform.Jsonp;
import org.flserver.platform.Uuids;
import org.flserver.user.CurrentUser;

/**
 * {@code /api/models/<id>/metrics/} (api.md §5.6): report metrics for a model and list them.
 *
 * <p>Reports come as forms with repeated {@code metric_names} / {@code metric_values} fields. The
 * DLR Python client sends them url-encoded, the web frontend and curl as multipart; both are
 * read here into the same pairs. Any other body (JSON, none) reads as a form without those fields,
 * as in the reference ("Metric names or values are missing"). A more specific path than
 * {@code ModelResource}'s, so JAX-RS routes {@code models/<id>/metrics} here.
 */
@Path("models/{id}/metrics")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "models")
public class MetricResource {

    static final String MISSING = "Metric names or values are missing";
    static final String LENGTHS = "Metric names and values must have the same length";

    @Inject
    MetricService metrics;

    @Inject
    CurrentUser caller;

    @Inject
    FormLimits formLimits;

    @Inject
    MetricLimits limits;

    @GET
    @Operation(summary = "Every metric reported for the model (value_binary base64)")
    public JsonArray list(@PathParam("id") String id) {
        UUID modelId = Uuids.pathId(id, "Model");
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        for (Metric m : metrics.metricsOf(modelId, caller.id())) {
            out.add(json(m, modelId));
        }
        return out.build();
    }

    @POST
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(summary = "Report metrics: repeated form fields metric_names and metric_values (url-encoded)")
    public Response reportForm(@PathParam("id") String id, InputStream body) {
        return report(id, UploadForm.urlEncoded(body));
    }

    @POST
    @BoundedUpload
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Report metrics: repeated form fields metric_names and metric_values (multipart)")
    public Response reportMultipart(@PathParam("id") String id, List<EntityPart> parts) {
        return report(id, UploadForm.read(parts, formLimits));
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Operation(hidden = true)
    public Response reportOther(@PathParam("id") String id) {
        // the reference reads request.POST, which is empty for JSON and everything else
        Uuids.pathId(id, "Model");
        throw ApiException.badRequest(MISSING);
    }

    private Response report(String id, UploadForm form) {
        UUID modelId = Uuids.pathId(id, "Model");
        List<String> names = form.texts("metric_names");
        List<String> values = form.texts("metric_values");
        if (!form.has("metric_names") || !form.has("metric_values")) {
            throw ApiException.badRequest(MISSING);
        }
        if (names.size() != values.size()) {
            throw ApiException.badRequest(LENGTHS);
        }
        metrics.report(modelId, caller.id(), MetricValue.parse(names, values, limits.maxRows()));
        return Response.status(201).entity(Jsonp.createObjectBuilder()
                .add("detail", "Model Metrics Upload Accepted")
                .add("model_id", modelId.toString()).build()).build();
    }

    /**
     * One metric as the reference serializes it. A float that JSON cannot hold (NaN, ±infinity —
     * Python's {@code float()} accepts them) is written as the string Python prints for it
     * ({@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}); the reference fails with a 500.
     */
    static JsonObject json(Metric m, UUID modelId) {
        JsonObjectBuilder b = Jsonp.createObjectBuilder()
                .add("id", m.getId())
                .add("identifier", m.getIdentifier() == null ? JsonValue.NULL : Jsonp.createValue(m.getIdentifier()))
                .add("key", m.getKey());
        Double f = m.getValueFloat();
        if (f == null) {
            b.add("value_float", JsonValue.NULL);
        } else if (f.isNaN() || f.isInfinite()) {
            b.add("value_float", f.toString());
        } else {
            b.add("value_float", f);
        }
        byte[] bytes = m.getValueBinary();
        b.add("value_binary", bytes == null ? JsonValue.NULL : Jsonp.createValue(Base64.getEncoder().encodeToString(bytes)));
        return b.add("step", m.getStep())
                .add("model", modelId.toString())
                .add("reporter", m.getReporter().getId().toString())
                .build();
    }
}
