package org.flserver.platform;

import jakarta.inject.Inject;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * Lets a web frontend served from another origin (the DLR frontend on its own host or port) use
 * the API from the browser, for the origins of {@code fl.cors.allowed-origins} only
 * ({@link CorsOrigins}); with none configured it does nothing.
 *
 * <p>It is declared first in {@code web.xml}, so it runs before every other filter and long before
 * the API's authentication: a browser's preflight ({@code OPTIONS} with {@code Origin} and
 * {@code Access-Control-Request-Method}) carries no credentials and is answered here with 204,
 * and the CORS headers of an actual request are set before anything can refuse it, so that the
 * page can read error answers (401, 400, 413, ...) too. Requests from other origins get no CORS
 * header, so the browser keeps their answers from the page.
 */
public class CorsFilter extends HttpFilter {

    private static final long serialVersionUID = 1L;

    static final String ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
    /** What the frontend and the clients send beyond the headers browsers allow anyway. */
    static final String ALLOWED_HEADERS = "Authorization, Content-Type, Accept";
    /** Headers of our answers a page may read: the model download's file name, throttling's wait. */
    static final String EXPOSED_HEADERS = "Content-Disposition, Retry-After";
    /** How long a browser may reuse a preflight's answer (browsers cap it at 2 hours or less). */
    static final String MAX_AGE_SECONDS = "600";

    @Inject
    transient CorsSettings settings;

    @Override
    protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        CorsOrigins origins = settings.origins();
        if (!origins.enabled()) {
            chain.doFilter(request, response);
            return;
        }
        // answers differ by Origin from here on, so caches must keep them apart, whatever the origin
        response.addHeader("Vary", "Origin");
        String origin = request.getHeader("Origin");
        if (!origins.allows(origin)) {
            chain.doFilter(request, response);
            return;
        }
        response.setHeader("Access-Control-Allow-Origin", origin);
        response.setHeader("Access-Control-Allow-Credentials", "true");
        if ("OPTIONS".equals(request.getMethod()) && request.getHeader("Access-Control-Request-Method") != null) {
            response.setHeader("Access-Control-Allow-Methods", ALLOWED_METHODS);
            response.setHeader("Access-Control-Allow-Headers", ALLOWED_HEADERS);
            response.setHeader("Access-Control-Max-Age", MAX_AGE_SECONDS);
            response.setStatus(HttpServletResponse.SC_NO_CONTENT);
            return;
        }
        response.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
        chain.doFilter(request, response);
    }
}
