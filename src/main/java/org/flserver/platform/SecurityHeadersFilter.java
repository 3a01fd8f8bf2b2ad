package org.flserver.platform;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.annotation.WebFilter;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * Headers every answer of the application carries, set before anything else runs so that error
 * answers have them too:
 * <ul>
 * <li>{@code X-Content-Type-Options: nosniff} everywhere: a browser must never guess a type for
 * our bodies (an uploaded model file served as {@code application/octet-stream}, a JSON error
 * echoing request text) and run it as HTML or script;</li>
 * <li>{@code Cache-Control: no-store} on the API and the admin pages: their answers are per
 * caller (models, tokens, trainings) and must not be kept by browsers or shared caches. The
 * static start page and Payara's own answers are left cacheable.</li>
 * </ul>
 * It also runs for forwards and error dispatches, because the admin login page is reached by a
 * forward from Jakarta Security, which answers protected pages before any filter of the request
 * itself runs.
 */
@WebFilter(urlPatterns = "/*", asyncSupported = true,
        dispatcherTypes = {DispatcherType.REQUEST, DispatcherType.FORWARD, DispatcherType.ERROR})
public class SecurityHeadersFilter extends HttpFilter {

    @Override
    protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        response.setHeader("X-Content-Type-Options", "nosniff");
        String path = request.getRequestURI().substring(request.getContextPath().length());
        if (isUnder(path, "/api") || isUnder(path, "/admin")) {
            response.setHeader("Cache-Control", "no-store");
        }
        chain.doFilter(request, response);
    }

    private static boolean isUnder(String path, String prefix) {
        return path.equals(prefix) || path.startsWith(prefix + "/");
    }
}
