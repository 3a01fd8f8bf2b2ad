package org.flserver.platform;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;
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
 * the container (CDI bean discovery), so this class only fixes the path and the OpenAPI header.
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
}
