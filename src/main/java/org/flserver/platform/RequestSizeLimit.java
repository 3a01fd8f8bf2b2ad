package org.flserver.platform;

import jakarta.inject.Inject;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.annotation.WebFilter;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Refuses a request whose declared body is larger than the API accepts, with 413 and a JSON
 * detail, before any of it is read: multipart uploads up to {@code fl.upload.max-bytes}, every
 * other body up to {@link JsonBodies#MAX_JSON_BYTES}. Bodies without a declared length (chunked)
 * are limited where they are read ({@link JsonBodies}, the model file store).
 */
@WebFilter(urlPatterns = "/api/*", asyncSupported = true)
public class RequestSizeLimit extends HttpFilter {

    private static final long serialVersionUID = 1L;
    private static final long DRAIN_LIMIT = 64L << 20;

    @Inject
    @ConfigProperty(name = "fl.upload.max-bytes", defaultValue = "4294967296")
    long maxUploadBytes;

    @Override
    protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        long length = request.getContentLengthLong();
        String type = request.getContentType();
        boolean multipart = type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/");
        long limit = multipart ? maxUploadBytes : JsonBodies.MAX_JSON_BYTES;
        if (length > limit) {
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
