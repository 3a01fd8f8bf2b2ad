package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * What the DLR web frontend's browser does when the frontend is served from another origin than
 * the API, replayed over HTTP/1.1: the test servers allow {@link IntegrationEnvironment#CORS_ORIGIN}
 * ({@code fl.cors.allowed-origins}) and no other.
 */
class CorsIT {

    private static final String ALLOWED = IntegrationEnvironment.CORS_ORIGIN;
    private static final String OTHER = "http://elsewhere.test:3000";

    private final ApiClient api = new ApiClient();

    @Test
    void frontendOnAllowedOriginCreatesATraining() {
        Account actor = api.createUser("cors");
        Account client = api.createUser("cors-client");
        String model = ModelTesting.uploadFixture(api, actor, "models/mlp.torchscript.pt");

        // the preflight the browser sends before a JSON POST with Basic credentials: no credentials
        // of its own, answered before authentication
        Reply preflight = api.sendWithHeaders("OPTIONS", "/api/trainings/", Map.of("Origin", ALLOWED,
                "Access-Control-Request-Method", "POST",
                "Access-Control-Request-Headers", "authorization,content-type"), null);
        assertEquals(204, preflight.status(), preflight.toString());
        assertEquals(ALLOWED, preflight.header("Access-Control-Allow-Origin"));
        assertEquals("true", preflight.header("Access-Control-Allow-Credentials"));
        assertTrue(list(preflight, "Access-Control-Allow-Methods").contains("post"), preflight.headers().toString());
        List<String> headers = list(preflight, "Access-Control-Allow-Headers");
        assertTrue(headers.contains("authorization") && headers.contains("content-type"), headers.toString());
        assertEquals("600", preflight.header("Access-Control-Max-Age"));
        assertTrue(list(preflight, "Vary").contains("origin"), preflight.headers().toString());

        // the request itself, as the frontend sends it (Basic credentials from its login form)
        String body = "{\"model_id\": \"" + model + "\", \"target_num_updates\": 1, \"metric_names\": [\"accuracy\"],"
                + " \"aggregation_method\": \"FedAvg\", \"clients\": [\"" + client.id() + "\"]}";
        Reply created = api.sendWithHeaders("POST", "/api/trainings/", Map.of("Origin", ALLOWED,
                "Authorization", actor.basicHeader(), "Content-Type", "application/json"), body);
        assertEquals(201, created.status(), created.toString());
        assertEquals("Training created successfully!", created.detail());
        assertAllowed(created);

        // error answers carry the headers too, so that the page can show them: a 401 from
        // authentication, a 400 from a resource, and a 413 from the body-size filter
        Reply unauthenticated = api.sendWithHeaders("GET", "/api/users/myself/", Map.of("Origin", ALLOWED), null);
        assertEquals(401, unauthenticated.status(), unauthenticated.toString());
        assertEquals("Authentication credentials were not provided.", unauthenticated.detail());
        assertAllowed(unauthenticated);
        Reply bad = api.sendWithHeaders("POST", "/api/trainings/", Map.of("Origin", ALLOWED,
                "Authorization", actor.basicHeader(), "Content-Type", "application/json"), "{}");
        assertEquals(400, bad.status(), bad.toString());
        assertAllowed(bad);
        Reply tooLarge = api.sendWithHeaders("POST", "/api/users/", Map.of("Origin", ALLOWED,
                "Content-Type", "application/json"), "{\"username\": \"" + "x".repeat(1_100_000) + "\"}");
        assertEquals(413, tooLarge.status(), tooLarge.toString());
        assertAllowed(tooLarge);
    }

    @Test
    void otherOriginsGetNoCorsHeaders() {
        Account actor = api.createUser("cors-other");
        Reply preflight = api.sendWithHeaders("OPTIONS", "/api/trainings/", Map.of("Origin", OTHER,
                "Access-Control-Request-Method", "POST",
                "Access-Control-Request-Headers", "authorization,content-type"), null);
        assertNoCors(preflight);
        Reply read = api.sendWithHeaders("GET", "/api/users/myself/", Map.of("Origin", OTHER,
                "Authorization", actor.basicHeader()), null);
        // the server answers, but without the headers the browser would not hand the answer to the page
        assertEquals(200, read.status(), read.toString());
        assertNoCors(read);
        Reply unauthenticated = api.sendWithHeaders("GET", "/api/users/myself/", Map.of("Origin", OTHER), null);
        assertEquals(401, unauthenticated.status());
        assertNoCors(unauthenticated);
        // an allowed origin must match exactly: another port or scheme is another origin
        assertNoCors(api.sendWithHeaders("GET", "/api/users/myself/", Map.of("Origin", "http://frontend.test:3001",
                "Authorization", actor.basicHeader()), null));
        assertNoCors(api.sendWithHeaders("GET", "/api/users/myself/", Map.of("Origin", "https://frontend.test:3000",
                "Authorization", actor.basicHeader()), null));
    }

    private static void assertAllowed(Reply r) {
        assertEquals(ALLOWED, r.header("Access-Control-Allow-Origin"), r.headers().toString());
        assertEquals("true", r.header("Access-Control-Allow-Credentials"), r.headers().toString());
        assertTrue(list(r, "Vary").contains("origin"), r.headers().toString());
    }

    private static void assertNoCors(Reply r) {
        for (String name : List.of("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age",
                "Access-Control-Expose-Headers")) {
            assertNull(r.header(name), name + " in " + r.headers());
        }
    }

    /** A comma-separated header (possibly repeated) as lower-case entries. */
    private static List<String> list(Reply r, String name) {
        return r.headers().allValues(name).stream().flatMap(v -> List.of(v.split(",")).stream())
                .map(v -> v.strip().toLowerCase(java.util.Locale.ROOT)).toList();
    }
}
