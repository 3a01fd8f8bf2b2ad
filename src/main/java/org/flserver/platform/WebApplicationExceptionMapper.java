package org.flserver.platform;

import jakarta.ws.rs.ClientErrorException;
import jakarta.ws.rs.NotAcceptableException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Request;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The JAX-RS runtime's own refusals (no route, wrong method, wrong content type, a parameter
 * that does not convert) as the DRF-style {@code {"detail": ...}} bodies the clients know,
 * instead of the container's HTML pages.
 */
@Provider
public class WebApplicationExceptionMapper implements ExceptionMapper<WebApplicationException> {

    private static final Logger LOG = Logger.getLogger(WebApplicationExceptionMapper.class.getName());

    @Context
    Request request;
    @Context
    HttpHeaders headers;

    @Override
    public Response toResponse(WebApplicationException e) {
        int status = e.getResponse() == null ? 500 : e.getResponse().getStatus();
        Response.ResponseBuilder answer;
        if (e instanceof NotFoundException) {
            answer = Response.fromResponse(ApiException.detail(404, "Not found.").toResponse());
        } else if (e instanceof NotAllowedException) {
            answer = Response.fromResponse(ApiException.detail(405,
                    "Method \"" + request.getMethod() + "\" not allowed.").toResponse())
                    .allow(e.getResponse().getAllowedMethods());
        } else if (e instanceof NotSupportedException) {
            String type = headers.getMediaType() == null ? "" : headers.getMediaType().toString();
            answer = Response.fromResponse(ApiException.detail(415,
                    "Unsupported media type \"" + type + "\" in request.").toResponse());
        } else if (e instanceof NotAcceptableException) {
            answer = Response.fromResponse(ApiException.detail(406,
                    "Could not satisfy the request Accept header.").toResponse());
        } else if (e instanceof ClientErrorException) {
            String text = status == 404 ? "Not found." : "Bad request.";
            if (status == 413) {
                text = "Request body too large.";
            }
            answer = Response.fromResponse(ApiException.detail(status, text).toResponse());
        } else {
            if (status >= 500) {
                LOG.log(Level.SEVERE, "request failed", e);
                answer = Response.fromResponse(ApiException.detail(500, "Internal server error.").toResponse());
            } else {
                // e.g. a path or query parameter that does not convert (ParamException): keep the
                // status, but answer JSON rather than the container's HTML error page
                Response.StatusType reason = e.getResponse().getStatusInfo();
                answer = Response.fromResponse(ApiException.detail(status,
                        status == 404 ? "Not found." : reason.getReasonPhrase() + ".").toResponse());
            }
        }
        return answer.build();
    }
}
