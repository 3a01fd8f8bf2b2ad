package org.flserver.platform;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.annotation.WebFilter;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Answers an API request whose {@code Content-Type} does not parse as a media type with the API's
 * JSON 400 (api.md §1.2). The runtime parses that header in its servlet layer, before any
 * JAX-RS filter or exception mapper, and refused it with the container's bare 400 (an HTML error
 * page or an empty body). This filter parses it first, with the runtime's own parser
 * ({@link MediaType#valueOf}), so it refuses exactly what the runtime would have. A malformed
 * {@code Accept} header is refused later, in {@link AcceptHeaderCheck}.
 */
@WebFilter(urlPatterns = "/api/*", asyncSupported = true)
public class ContentTypeHeaderCheck extends HttpFilter {

    private static final long serialVersionUID = 1L;

    @Override
    protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        String type = request.getHeader("Content-Type");
        if (type != null && !type.isBlank()) {
            try {
                MediaType.valueOf(type);
            } catch (RuntimeException e) {
                // IllegalArgumentException from the runtime's header parser
                refuse(response, "Malformed Content-Type header.");
                return;
            }
        }
        chain.doFilter(request, response);
    }

    static void refuse(HttpServletResponse response, String detail) throws IOException {
        byte[] body = ApiException.badRequest(detail).body().toString().getBytes(StandardCharsets.UTF_8);
        response.setStatus(400);
        response.setContentType("application/json");
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }
}
