package org.flserver.platform;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirements;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The OpenAPI document at {@code /api/schema/} (YAML, or JSON with {@code Accept: application/json}
 * or {@code ?format=json}) and Swagger UI at {@code /api/schema/swagger-ui/}, where the reference
 * server has them. MicroProfile OpenAPI generates the document from the resources' annotations and
 * serves it at the server's {@code /openapi}; the standard has no API to obtain it in-process, so
 * this resource relays it from the local listener.
 */
@Path("schema")
@Anonymous
@SecurityRequirements
@Tag(name = "schema")
public class SchemaResource {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String SWAGGER_VERSION = "5.34.1";

    @Context
    HttpServletRequest request;

    @GET
    @Operation(summary = "The OpenAPI description of this API")
    public Response schema(@HeaderParam("Accept") String accept, @QueryParam("format") String format) {
        boolean json = "json".equals(format) || (accept != null && accept.contains("application/json"));
        String type = json ? "application/json" : "application/yaml";
        URI local = URI.create("http://127.0.0.1:" + request.getLocalPort() + "/openapi");
        try {
            // Payara answers YAML by default and JSON when asked for it
            HttpRequest.Builder relay = HttpRequest.newBuilder(local).timeout(Duration.ofSeconds(30)).GET();
            if (json) {
                relay.header("Accept", "application/json");
            }
            HttpResponse<byte[]> answer = HTTP.send(relay.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (answer.statusCode() != 200) {
                throw ApiException.detail(503, "The OpenAPI document is not available right now.");
            }
            return Response.ok(answer.body(), type).build();
        } catch (IOException e) {
            throw ApiException.detail(503, "The OpenAPI document is not available right now.");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.detail(503, "The OpenAPI document is not available right now.");
        }
    }

    @GET
    @Path("swagger-ui")
    @Operation(summary = "Swagger UI for this API")
    public Response swaggerUi() {
        try (InputStream page = SchemaResource.class.getResourceAsStream("swagger-ui.html")) {
            String html = new String(page.readAllBytes(), StandardCharsets.UTF_8).replace("@VERSION@", SWAGGER_VERSION);
            return Response.ok(html, "text/html; charset=utf-8").build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
