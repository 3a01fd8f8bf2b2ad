package org.flserver.user;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.ext.Provider;
import org.flserver.platform.Anonymous;
import org.flserver.platform.ApiException;

/**
 * Authenticates every API request except those marked {@link Anonymous}. It runs after route
 * matching, so an unknown route answers 404 (not 401), and refusals carry the 401 bodies of api.md §1.1.
 */
@Provider
@Priority(Priorities.AUTHENTICATION)
public class AuthenticationFilter implements ContainerRequestFilter {

    @Context
    ResourceInfo resource;

    @Context
    HttpServletRequest servletRequest;

    @Inject
    PasswordGuard guard;

    @Inject
    AuthenticationService authentication;

    @Inject
    CurrentUser currentUser;

    @Override
    public void filter(ContainerRequestContext request) {
        if (resource.getResourceMethod() == null
                || resource.getResourceMethod().isAnnotationPresent(Anonymous.class)
                || resource.getResourceClass().isAnnotationPresent(Anonymous.class)) {
            return;
        }
        try {
            currentUser.set(authentication.authenticate(request.getHeaderString(HttpHeaders.AUTHORIZATION),
                    guard.clientAddress(servletRequest)));
        } catch (ApiException e) {
            request.abortWith(e.toResponse());
        }
    }
}
