package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/** Users API and every authentication variant of api.md §1.1, against the shared server on PostgreSQL. */
class UserApiIT {

    private final ApiClient api = new ApiClient();

    @Test
    void simultaneousSignUpsWithOneUsernameCreateOneUserAndRefuseTheOthersAsADuplicate() {
        // Sent together, they may all pass the service's check (the password hash between check and
        // insert takes a while); the unique key then refuses all but one, with the duplicate's 400
        // (it was a 500 at commit). Whatever the timing, the outcome asserted is the same.
        String name = ApiClient.uniqueName("twin");
        String body = "{\"username\":\"" + name + "\",\"password\":\"pw\"}";
        List<Reply> replies = Stream.generate(() -> api.exchangeAsync("POST", "/api/users/", null, "application/json",
                HttpRequest.BodyPublishers.ofString(body))).limit(4).toList().stream().map(CompletableFuture::join)
                .toList();
        assertEquals(1, replies.stream().filter(r -> r.status() == 201).count(), replies.toString());
        for (Reply r : replies) {
            if (r.status() != 201) {
                assertEquals(400, r.status(), r.toString());
                assertEquals("{\"username\":[\"A user with that username already exists.\"]}", r.body());
            }
        }
    }

    /**
     * fl.signup.max-per-address: the test servers allow {@link IntegrationEnvironment#SIGNUPS_PER_ADDRESS}
     * sign-ups per address and hour and believe X-Forwarded-For from loopback, so this test signs up
     * from addresses of its own (documentation addresses, which nothing else uses).
     */
    @Test
    void signUpsFromOneAddressAreLimitedAndTheRefusalSaysWhenToComeBack() throws Exception {
        String address = "198.51.100.7";
        ExecutorService four = Executors.newFixedThreadPool(4); // four at a time, to keep the test short
        try {
            List<Future<Reply>> replies = new ArrayList<>();
            String prefix = ApiClient.uniqueName("many");
            for (int i = 0; i < IntegrationEnvironment.SIGNUPS_PER_ADDRESS; i++) {
                String name = prefix + "-" + i;
                replies.add(four.submit(() -> signUpFrom(address, name)));
            }
            for (Future<Reply> r : replies) {
                assertEquals(201, r.get().status(), r.get().toString());
            }
        } finally {
            four.shutdownNow();
        }
        String name = ApiClient.uniqueName("one-more");
        Reply refused = signUpFrom(address, name);
        assertEquals(429, refused.status(), refused.toString());
        long retryAfter = Long.parseLong(refused.header("Retry-After"));
        assertTrue(retryAfter >= 1 && retryAfter <= 3600, refused.toString());
        assertEquals("Too many sign-ups from this address: at most " + IntegrationEnvironment.SIGNUPS_PER_ADDRESS
                + " in 3600 seconds. Try again in " + retryAfter + (retryAfter == 1 ? " second." : " seconds."),
                refused.detail());
        // nothing was created: the name is still free, and another address is not limited
        assertEquals(201, signUpFrom("198.51.100.8", name).status());
    }

    private Reply signUpFrom(String address, String username) {
        return api.sendWithHeaders("POST", "/api/users/", Map.of("X-Forwarded-For", address,
                "Content-Type", "application/json"), "{\"username\":\"" + username + "\",\"password\":\"pw\"}");
    }

    @Test
    void createUserAnswersTheUserWithToken() {
        String name = ApiClient.uniqueName("jane");
        Reply r = api.postJson("/api/users/", null, "{\"username\":\"" + name + "\",\"password\":\"secret\","
                + "\"first_name\":\"Jane\",\"last_name\":\"Doe\",\"email\":\"jane@example.com\",\"actor\":true,"
                + "\"client\":false,\"message_endpoint\":\"http://client-host:8101/\"}");
        assertEquals(201, r.status(), r.toString());
        JsonObject u = r.json();
        assertEquals(name, u.getString("username"));
        assertEquals("Jane", u.getString("first_name"));
        assertEquals("Doe", u.getString("last_name"));
        assertEquals("jane@example.com", u.getString("email"));
        assertTrue(u.getBoolean("actor"));
        assertFalse(u.getBoolean("client"));
        assertEquals("http://client-host:8101/", u.getString("message_endpoint"));
        assertTrue(u.getString("token").matches("[0-9a-f]{40}"), u.toString());
        assertTrue(u.getString("id").matches("[0-9a-f-]{36}"));
        assertFalse(u.containsKey("password"));
    }

    @Test
    void createUserWithDefaultsAndFormBody() {
        String name = ApiClient.uniqueName("form");
        Reply r = api.send("POST", "/api/users/", null, "application/x-www-form-urlencoded",
                "username=" + name + "&password=pw&actor=true");
        assertEquals(201, r.status(), r.toString());
        assertTrue(r.json().getBoolean("actor"));
        assertFalse(r.json().getBoolean("client"));
        assertEquals("", r.json().getString("email"));
    }

    @Test
    void myselfWorksWithEveryCredentialKindAndHidesTheToken() {
        Account a = api.createUser("auth");
        for (String header : new String[]{a.tokenHeader(), a.basicHeader(), ApiClient.basic(a.token(), "")}) {
            Reply r = api.send("GET", "/api/users/myself/", header, null, (String) null);
            assertEquals(200, r.status(), header + " -> " + r);
            assertEquals(a.id().toString(), r.json().getString("id"));
            assertFalse(r.json().containsKey("token"));
        }
        // Basic is verified from the cache the second time; it must still answer the same
        assertEquals(200, api.send("GET", "/api/users/myself/", a.basicHeader(), null, (String) null).status());
    }

    @Test
    void authenticationFailuresAre401WithTheReferenceMessages() {
        Account a = api.createUser("fail");
        assertUnauthorized(null, "Authentication credentials were not provided.");
        assertUnauthorized("Bearer abc", "Authentication credentials were not provided.");
        assertUnauthorized(ApiClient.basic(a.username(), "wrong"), "Invalid username/password.");
        assertUnauthorized(ApiClient.basic("nobody-" + a.username(), "x"), "Invalid username/password.");
        assertUnauthorized("Token " + "0".repeat(40), "Invalid token.");
        assertUnauthorized("Token short", "Invalid token.");
        assertUnauthorized(ApiClient.basic("f".repeat(40), ""), "Invalid token.");
        assertUnauthorized("Token", "Invalid token header. No credentials provided.");
        assertUnauthorized("Token a b", "Invalid token header. Token string should not contain spaces.");
        assertUnauthorized("Basic !!!notbase64", "Invalid basic header. Credentials not correctly base64 encoded.");
        // a cached good Basic header must not make a wrong password pass
        assertEquals(200, api.send("GET", "/api/users/myself/", a.basicHeader(), null, (String) null).status());
        assertUnauthorized(ApiClient.basic(a.username(), a.password() + "x"), "Invalid username/password.");
    }

    private void assertUnauthorized(String header, String detail) {
        Reply r = api.send("GET", "/api/users/myself/", header, null, (String) null);
        assertEquals(401, r.status(), header + " -> " + r);
        assertEquals(detail, r.detail());
        assertEquals("Token", r.header("WWW-Authenticate"));
    }

    @Test
    void readUsers() {
        Account a = api.createUser("reader");
        Account b = api.createUser("other");
        Reply list = api.get("/api/users/", a);
        assertEquals(200, list.status());
        assertTrue(list.array().stream().map(v -> v.asJsonObject().getString("id")).anyMatch(b.id().toString()::equals));
        assertTrue(list.array().stream().noneMatch(v -> v.asJsonObject().containsKey("token")));

        Reply own = api.get("/api/users/" + a.id() + "/", a);
        assertEquals(a.token(), own.json().getString("token"));
        Reply other = api.get("/api/users/" + b.id(), a);
        assertEquals(200, other.status());
        assertFalse(other.json().containsKey("token"));

        Reply groups = api.get("/api/users/groups/", a);
        assertEquals(200, groups.status());
        assertEquals(0, groups.array().size());
    }

    @Test
    void unknownAndMalformedUserIdsAre400NotFound() {
        Account a = api.createUser("ids");
        String unknown = "00000000-0000-4000-8000-000000000000";
        Reply r = api.get("/api/users/" + unknown + "/", a);
        assertEquals(400, r.status());
        assertEquals("User " + unknown + " not found.", r.detail());
        Reply malformed = api.get("/api/users/not-a-uuid/", a);
        assertEquals(400, malformed.status());
        assertEquals("User not-a-uuid not found.", malformed.detail());
    }
}
