package org.flserver.platform;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.PreMatching;
import jakarta.ws.rs.ext.Provider;

/**
 * Answers an {@code Accept} header that does not parse with the API's JSON 400 (api.md §1.2). The
 * runtime reads it while it picks the resource method, and its refusal there was a bare 400 that
 * no exception mapper sees; so it is parsed here first, before matching, by the runtime itself
 * (its own reading of q-values and parameters, so nothing it accepts is refused).
 */
@Provider
@PreMatching
public class AcceptHeaderCheck implements ContainerRequestFilter {

    @Override
    public void filter(ContainerRequestContext request) {
        try {
            request.getAcceptableMediaTypes();
        } catch (RuntimeException e) {
            // Jersey: a ProcessingException around the parse error
            request.abortWith(ApiException.badRequest("Malformed Accept header.").toResponse());
        }
    }
}
