package org.flserver.platform;

import jakarta.ejb.ApplicationException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonStructure;
import jakarta.ws.rs.core.Response;

/**
 * A refusal with a status and one of the API's error bodies (api.md §1.2). Services throw it;
 * {@link ApiExceptionMapper} writes it. It is an EJB application exception, so it crosses a
 * {@code @Stateless} boundary unwrapped and rolls the transaction back: a refused request leaves
 * nothing half-written.
 */
@ApplicationException(rollback = true)
public class ApiException extends RuntimeException {

    private final int status;
    private final transient JsonStructure body;
    private String headerName;
    private String headerValue;

    public ApiException(int status, JsonStructure body, String message) {
        super(message, null, false, false);
        this.status = status;
        this.body = body;
    }

    /** {@code {"detail": text}} — DRF's APIException shape. */
    public static ApiException detail(int status, String text) {
        return new ApiException(status, Jsonp.createObjectBuilder().add("detail", text).build(), text);
    }

    /** {@code ["text"]} — DRF's ValidationError shape, used where the reference server uses it. */
    public static ApiException list(int status, String text) {
        JsonArray body = Jsonp.createArrayBuilder().add(text).build();
        return new ApiException(status, body, text);
    }

    /** {@code {"field": ["text"]}} — a field error as marshmallow and DRF serializers give it. */
    public static ApiException field(String field, String text) {
        JsonObject body = Jsonp.createObjectBuilder()
                .add(field, Jsonp.createArrayBuilder().add(text)).build();
        return new ApiException(400, body, field + ": " + text);
    }

    public static ApiException badRequest(String text) {
        return detail(400, text);
    }

    public static ApiException forbidden(String text) {
        return detail(403, text);
    }

    /** The reference server answers "not found" with 400 (api.md §1.2); clients depend on it. */
    public static ApiException notFound(String entity, Object id) {
        return detail(400, entity + " " + id + " not found.");
    }

    /** 401 with {@code WWW-Authenticate: Token}, as DRF's first authenticator answers. */
    public static ApiException unauthorized(String text) {
        ApiException e = detail(401, text);
        e.headerName = "WWW-Authenticate";
        e.headerValue = "Token";
        return e;
    }

    public int status() {
        return status;
    }

    public JsonStructure body() {
        return body;
    }

    public Response toResponse() {
        Response.ResponseBuilder response = Response.status(status).type("application/json").entity(body.toString());
        if (headerName != null) {
            response.header(headerName, headerValue);
        }
        return response.build();
    }
}
