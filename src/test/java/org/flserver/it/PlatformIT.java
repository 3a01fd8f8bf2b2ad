package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/** What every route shares: OpenAPI, Swagger UI, health, JSON 404/405/415/413, trailing slashes. */
class PlatformIT {

    private final ApiClient api = new ApiClient();

    @Test
    void openApiDescribesTheApi() {
        Reply yaml = api.send("GET", "/api/schema/", null, null, (String) null);
        assertEquals(200, yaml.status());
        assertTrue(yaml.body().startsWith("openapi: 3"), yaml.body());
        Reply json = api.send("GET", "/api/schema/?format=json", null, null, (String) null);
        assertEquals(200, json.status());
        var paths = json.json().getJsonObject("paths");
        String[] endpoints = {"/api/users", "/api/users/myself", "/api/users/groups", "/api/users/trainings",
                "/api/users/{id}", "/api/groups", "/api/groups/{id}", "/api/models", "/api/models/{id}",
                "/api/models/{id}/metadata", "/api/trainings", "/api/trainings/{id}", "/api/trainings/{id}/clients",
                "/api/trainings/{id}/start", "/api/schema", "/api/schema/swagger-ui"};
        for (String path : endpoints) {
            assertTrue(paths.keySet().stream().anyMatch(p -> p.replaceAll("\\{[^}]+}", "{id}").equals(path)),
                    path + " missing in " + paths.keySet());
        }
        // every operation is described, not just listed
        paths.values().forEach(item -> item.asJsonObject().forEach((method, operation) -> {
            if (operation.getValueType() == jakarta.json.JsonValue.ValueType.OBJECT) {
                assertTrue(operation.asJsonObject().containsKey("summary"), method + " without summary: " + item);
            }
        }));
        Reply ui = api.send("GET", "/api/schema/swagger-ui/", null, null, (String) null);
        assertEquals(200, ui.status());
        assertTrue(ui.body().contains("SwaggerUIBundle"));
        String script = ui.body().replaceAll("(?s).*<script src=\"([^\"]+)\".*", "$1");
        assertEquals(200, api.send("GET", script, null, null, (String) null).status(), script);
    }

    @Test
    void healthReportsTheDatabase() {
        Reply health = api.send("GET", "/health/ready", null, null, (String) null);
        assertEquals(200, health.status());
        assertEquals("UP", health.json().getString("status"));
        assertTrue(health.body().contains("PostgreSQL"), health.body());
    }

    @Test
    void unknownRoutesWrongMethodsAndTypesAnswerJson() {
        Account a = api.createUser("plat");
        Reply unknown = api.get("/api/no/such/route/", a);
        assertEquals(404, unknown.status());
        assertEquals("Not found.", unknown.detail());
        Reply method = api.send("PUT", "/api/users/myself/", a.tokenHeader(), "application/json", "{}");
        assertEquals(405, method.status());
        assertEquals("Method \"PUT\" not allowed.", method.detail());
        Reply type = api.send("POST", "/api/users/", null, "text/plain", "hello");
        assertEquals(415, type.status());
        assertTrue(type.detail().startsWith("Unsupported media type"), type.toString());
        Reply tooLarge = api.send("POST", "/api/users/", null, "application/json",
                "{\"username\":\"" + "x".repeat(2 << 20) + "\"}");
        assertEquals(413, tooLarge.status());
        assertTrue(tooLarge.detail().startsWith("Request body too large"), tooLarge.toString());
    }

    /** No WADL (it named the exact Jersey build and the Java methods of every route to any user). */
    @Test
    void noWadlDescribesTheApi() {
        Account a = api.createUser("wadl");
        Reply wadl = api.get("/api/application.wadl", a);
        assertEquals(404, wadl.status(), wadl.toString());
        assertEquals("Not found.", wadl.detail());
        Reply options = api.send("OPTIONS", "/api/trainings/", a.tokenHeader(), null, null);
        assertTrue(options.status() < 300, options.toString());
        assertFalse(options.toString().contains("Jersey"), options.toString());
        assertFalse(options.toString().contains("wadl"), options.toString());
    }
}
