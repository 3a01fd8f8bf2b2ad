package org.flserver.platform;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.annotation.WebFilter;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Refuses a request whose declared body is larger than the API accepts, with 413 and a JSON
 * detail, before any of it is read: every non-multipart body (JSON, forms) up to
 * {@link JsonBodies#MAX_JSON_BYTES}, inference requests (their input as JSON) up to
 * {@link JsonBodies#MAX_INFERENCE_JSON_BYTES}. Multipart uploads are bounded by the resources that take them
 * ({@code org.flserver.model.UploadLimitFilter}, {@code fl.upload.max-bytes}); bodies without a
 * declared length are limited where they are read ({@link JsonBodies}).
 */
@WebFilter(urlPatterns = "/api/*", asyncSupported = true)
public class RequestSizeLimit extends HttpFilter {

    private static final long serialVersionUID = 1L;
    private static final long DRAIN_LIMIT = 64L << 20;

    @Override
    protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        long length = request.getContentLengthLong();
        String type = request.getContentType();
        boolean multipart = type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/");
        long limit = request.getRequestURI().startsWith(request.getContextPath() + "/api/inference")
                ? JsonBodies.MAX_INFERENCE_JSON_BYTES : JsonBodies.MAX_JSON_BYTES;
        if (!multipart && length > limit) {
            // A client that is still sending would see a reset instead of our answer if we closed
            // now; so swallow a moderate excess first, and close only after huge ones.
            boolean drained = false;
            if (length - limit <= DRAIN_LIMIT) {
                try {
                    request.getInputStream().skipNBytes(length);
                    drained = true;
                } catch (java.io.EOFException shorterThanDeclared) {
                    // the client sent less than it declared; answer and close all the same
                }
            }
            if (!drained) {
                response.setHeader("Connection", "close");
            }
            response.setStatus(413);
            response.setContentType("application/json");
            byte[] body = ("{\"detail\":\"Request body too large: at most " + limit + " bytes.\"}")
                    .getBytes(StandardCharsets.UTF_8);
            response.setContentLength(body.length);
            response.getOutputStream().write(body);
            return;
        }
        chain.doFilter(request, response);
    }
}
