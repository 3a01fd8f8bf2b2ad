package org.flserver.platform;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeIn;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;
import org.eclipse.microprofile.openapi.annotations.security.SecuritySchemes;

/**
 * The REST API lives under {@code /api}, as in the DLR FL Demonstrator, so its Python client and
 * web frontend find every route where they expect it. Resources and providers are discovered by
 * the container (CDI bean discovery), so this class only fixes the path, the OpenAPI header and two
 * properties of the runtime.
 */
@ApplicationPath("/api")
@OpenAPIDefinition(
        info = @Info(title = "fl-server", version = "1",
                description = "Federated-learning server; REST API compatible with the DLR FL Demonstrator."),
        security = {@SecurityRequirement(name = "token"), @SecurityRequirement(name = "basic")})
@SecuritySchemes({
        @SecurityScheme(securitySchemeName = "token", type = SecuritySchemeType.APIKEY,
                in = SecuritySchemeIn.HEADER, apiKeyName = "Authorization",
                description = "'Token <40 hex>' as returned by POST /api/users/"),
        @SecurityScheme(securitySchemeName = "basic", type = SecuritySchemeType.HTTP, scheme = "basic",
                description = "user name and password, or the token as user name with an empty password")})
public class FlApplication extends Application {

    /**
     * Two properties of Jersey (Payara's JAX-RS); other JAX-RS runtimes ignore them.
     * <ul>
     * <li>No WADL: Jersey describes the API as WADL, by default to anyone signed in, at
     *     {@code /api/application.wadl} and as the answer to every OPTIONS request. That XML names
     *     the exact Jersey build ("Jersey: 3.1.11.payara-p1 2025-09-11") and the Java methods behind
     *     each route, which helps an attacker and no client (the API's description is the OpenAPI
     *     document at {@code /api/schema/}).</li>
     * <li>A status, not the servlet's {@code sendError}, when Jersey cannot answer: after a client
     *     closed its connection before the answer, Jersey called {@code sendError(500)}, the
     *     container then wrote its error page to the closed connection as well and logged two more
     *     stack traces. Every answer of ours comes from our exception mappers anyway.</li>
     * </ul>
     */
    @Override
    public Map<String, Object> getProperties() {
        return Map.of("jersey.config.server.wadl.disableWadl", true,
                "jersey.config.server.response.setStatusOverSendError", true);
    }
}
