package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.flserver.it.ApiClient.Account;
import org.junit.jupiter.api.Test;

/**
 * Password guessing, headers and disclosure against the shared server: throttling of failed Basic
 * logins per username and per client address (429 with Retry-After), unknown usernames answered
 * exactly like wrong passwords, nosniff / no-store / the session cookie's attributes, and who sees
 * whose e-mail and message endpoint.
 *
 * <p>Every test that fails logins on purpose sends them from its own loopback address (127.0.0.x,
 * x ≥ 11, bound as the connection's source address), so the failures count against that address
 * only; the rest of the suite, all on 127.0.0.1, never comes near the per-address limit. The
 * numbers are the server's defaults: 5 failures per username (then 30 s), 20 per address (then
 * 60 s). Everything is HTTP/1.1.
 */
class SecurityIT {

    private static final int USER_MAX_FAILURES = 5;
    private static final int USER_LOCKOUT_SECONDS = 30;
    private static final int ADDRESS_MAX_FAILURES = 20;
    private static final int ADDRESS_LOCKOUT_SECONDS = 60;
    private static final String BAD_PASSWORD = "{\"detail\":\"Invalid username/password.\"}";

    private final ApiClient api = new ApiClient();

    @Test
    void wrongPasswordsForOneUsernameAreThrottled() {
        Account victim = api.createUser("victim");
        Account other = api.createUser("bystander");
        Raw attacker = Raw.from("127.0.0.11");
        for (int i = 0; i < USER_MAX_FAILURES; i++) {
            Raw.Reply r = attacker.get("/api/users/myself/", ApiClient.basic(victim.username(), "guess-" + i));
            assertEquals(401, r.status(), r.toString());
            assertJson(BAD_PASSWORD, r.body());
        }
        // the right password is not even checked now, from the attacker's address or any other
        assertThrottled(attacker.get("/api/users/myself/", victim.basicHeader()), USER_LOCKOUT_SECONDS);
        assertThrottled(Raw.from("127.0.0.12").get("/api/users/myself/", victim.basicHeader()), USER_LOCKOUT_SECONDS);
        // the victim's token still works, and other users' passwords from the same address too
        assertEquals(200, attacker.get("/api/users/myself/", victim.tokenHeader()).status());
        assertEquals(200, attacker.get("/api/users/myself/", other.basicHeader()).status());
    }

    @Test
    void anAddressTheUserLoggedInFromIsNotLockedOutByGuessesElsewhere() {
        Account user = api.createUser("owner");
        Raw home = Raw.from("127.0.0.13");
        assertEquals(200, home.get("/api/users/myself/", user.basicHeader()).status());
        Raw attacker = Raw.from("127.0.0.14");
        for (int i = 0; i < USER_MAX_FAILURES; i++) {
            assertEquals(401, attacker.get("/api/users/myself/", ApiClient.basic(user.username(), "g" + i)).status());
        }
        // The right password in headers the server has not cached yet (the scheme's case differs), so
        // that it is really checked: refused elsewhere, accepted from the user's own address. (The
        // header verified from home is cached and would pass anywhere: it is no guess.)
        assertThrottled(attacker.get("/api/users/myself/", uncached(user, "BASIC")), USER_LOCKOUT_SECONDS);
        assertThrottled(Raw.from("127.0.0.15").get("/api/users/myself/", uncached(user, "bAsic")),
                USER_LOCKOUT_SECONDS);
        Raw.Reply r = home.get("/api/users/myself/", uncached(user, "basic"));
        assertEquals(200, r.status(), r.toString());
    }

    @Test
    void unknownUsernamesAreAnsweredExactlyLikeWrongPasswords() {
        Account known = api.createUser("known");
        String unknown = ApiClient.uniqueName("nobody");
        Raw client = Raw.from("127.0.0.16");
        for (int i = 0; i < USER_MAX_FAILURES; i++) {
            Raw.Reply wrong = client.get("/api/users/myself/", ApiClient.basic(known.username(), "wrong-" + i));
            Raw.Reply missing = client.get("/api/users/myself/", ApiClient.basic(unknown, "wrong-" + i));
            assertEquals(401, wrong.status());
            assertEquals(wrong.status(), missing.status());
            assertEquals(wrong.body(), missing.body());
            assertEquals(wrong.header("WWW-Authenticate"), missing.header("WWW-Authenticate"));
            assertEquals(wrong.header("Content-Type"), missing.header("Content-Type"));
        }
        // and both are throttled after the same number of failures
        assertThrottled(client.get("/api/users/myself/", known.basicHeader()), USER_LOCKOUT_SECONDS);
        assertThrottled(client.get("/api/users/myself/", ApiClient.basic(unknown, "x")), USER_LOCKOUT_SECONDS);
    }

    @Test
    void anAddressWithTooManyFailuresIsThrottledWhateverTheUsername() throws Exception {
        Account user = api.createUser("crowd");
        Raw attacker = Raw.from("127.0.0.17");
        for (int i = 0; i < ADDRESS_MAX_FAILURES; i++) {
            Raw.Reply r = attacker.get("/api/users/myself/", ApiClient.basic(ApiClient.uniqueName("spray"), "pw"));
            assertEquals(401, r.status(), "failure " + (i + 1) + ": " + r);
        }
        assertThrottled(attacker.get("/api/users/myself/", user.basicHeader()), ADDRESS_LOCKOUT_SECONDS);
        // tokens are never throttled; the same password from another address is fine
        assertEquals(200, attacker.get("/api/users/myself/", user.tokenHeader()).status());
        HttpResponse<String> elsewhere = http("/api/users/myself/", user.basicHeader());
        assertEquals(200, elsewhere.statusCode(), elsewhere.body());
    }

    @Test
    void apiAnswersAreNotSniffedNorStored() throws Exception {
        Account a = api.createUser("headers");
        for (HttpResponse<String> r : List.of(http("/api/users/myself/", a.tokenHeader()),
                http("/api/users/myself/", null), http("/api/no/such/route/", a.tokenHeader()),
                http("/api/users/", a.basicHeader()))) {
            assertEquals(List.of("nosniff"), r.headers().allValues("X-Content-Type-Options"), r.uri().toString());
            assertEquals(List.of("no-store"), r.headers().allValues("Cache-Control"), r.uri().toString());
        }
        HttpResponse<String> start = http("/", null);
        assertEquals(200, start.statusCode());
        assertEquals(List.of("nosniff"), start.headers().allValues("X-Content-Type-Options"));
    }

    @Test
    void adminPagesAreNotSniffedNorStoredAndTheirCookieIsLaxAndHttpOnly() throws Exception {
        for (String path : List.of("/admin/login.xhtml", "/admin/")) {
            HttpResponse<String> page = http(path, null);
            assertEquals(200, page.statusCode(), path);
            assertEquals(List.of("nosniff"), page.headers().allValues("X-Content-Type-Options"), path);
            assertEquals(List.of("no-store"), page.headers().allValues("Cache-Control"), path);
            String cookie = page.headers().allValues("Set-Cookie").stream()
                    .filter(c -> c.startsWith("JSESSIONID=")).findFirst().orElse(null);
            assertNotNull(cookie, path + ": " + page.headers().map());
            Map<String, String> attributes = cookieAttributes(cookie);
            assertEquals("/", attributes.get("path"), cookie);
            assertTrue(attributes.containsKey("httponly"), cookie);
            // attribute values are case-insensitive (RFC 6265bis); Payara writes "lax"
            assertEquals("lax", attributes.get("samesite").toLowerCase(Locale.ROOT), cookie);
            // plain http: no Secure (it would make the cookie useless here); https gets it
            assertFalse(attributes.containsKey("secure"), cookie);
        }
    }

    /** The same checks as a plain curl sees them, where curl is installed. */
    @Test
    void curlSeesTheHeadersToo() throws Exception {
        Path curl = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                .map(dir -> Path.of(dir, "curl")).filter(Files::isExecutable).findFirst().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(curl != null, "no curl on the PATH");
        Account a = api.createUser("curl");
        Process p = new ProcessBuilder(curl.toString(), "-s", "-i", "--http1.1", "-H",
                "Authorization: " + a.tokenHeader(), api.base() + "/api/users/myself/")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertTrue(out.startsWith("HTTP/1.1 200"), out);
        String head = out.substring(0, out.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
        assertTrue(head.contains("\r\nx-content-type-options: nosniff\r\n"), out);
        assertTrue(head.contains("\r\ncache-control: no-store\r\n"), out);
    }

    @Test
    void othersSeeNeitherEmailNorMessageEndpointButTheUserAndSuperusersDo() throws Exception {
        JsonObject alice = create("alice", "alice@example.org", "http://alice-host:8101/");
        JsonObject bob = create("bob", "bob@example.org", "http://bob-host:8101/");
        String aliceAuth = "Token " + alice.getString("token");
        String aliceId = alice.getString("id");
        String bobId = bob.getString("id");

        JsonObject bobAsSeenByAlice = find(array(http("/api/users/", aliceAuth)), bobId);
        assertEquals("", bobAsSeenByAlice.getString("email"));
        assertEquals("", bobAsSeenByAlice.getString("message_endpoint"));
        assertEquals(bob.getString("username"), bobAsSeenByAlice.getString("username"));
        JsonObject self = find(array(http("/api/users/", aliceAuth)), aliceId);
        assertEquals("alice@example.org", self.getString("email"));
        assertEquals("http://alice-host:8101/", self.getString("message_endpoint"));
        assertFalse(self.containsKey("token"));

        JsonObject bobById = object(http("/api/users/" + bobId + "/", aliceAuth));
        assertEquals("", bobById.getString("email"));
        assertEquals("", bobById.getString("message_endpoint"));
        JsonObject aliceById = object(http("/api/users/" + aliceId + "/", aliceAuth));
        assertEquals("alice@example.org", aliceById.getString("email"));
        JsonObject myself = object(http("/api/users/myself/", aliceAuth));
        assertEquals("http://alice-host:8101/", myself.getString("message_endpoint"));

        String admin = ApiClient.basic("admin", "admin-password");
        JsonObject bobAsSeenByAdmin = find(array(http("/api/users/", admin)), bobId);
        assertEquals("bob@example.org", bobAsSeenByAdmin.getString("email"));
        assertEquals("http://bob-host:8101/", bobAsSeenByAdmin.getString("message_endpoint"));
        assertEquals("bob@example.org", object(http("/api/users/" + bobId + "/", admin)).getString("email"));
    }

    // ---- helpers ----

    /** The account's Basic credentials with another spelling of the scheme: a different header. */
    private static String uncached(Account account, String scheme) {
        return scheme + " " + account.basicHeader().substring("Basic ".length());
    }

    private static void assertThrottled(Raw.Reply r, int lockoutSeconds) {
        assertEquals(429, r.status(), r.toString());
        String retryAfter = r.header("Retry-After");
        assertNotNull(retryAfter, r.toString());
        int seconds = Integer.parseInt(retryAfter);
        assertTrue(seconds >= 1 && seconds <= lockoutSeconds, "Retry-After " + seconds);
        assertEquals("application/json", r.header("Content-Type"));
        assertJson("{\"detail\":\"Request was throttled. Expected available in " + seconds
                + (seconds == 1 ? " second.\"}" : " seconds.\"}"), r.body());
        assertNull(r.header("WWW-Authenticate"), r.toString());
    }

    private static void assertJson(String expected, String actual) {
        assertEquals(parse(expected), parse(actual), actual);
    }

    private static JsonValue parse(String json) {
        return Json.createReader(new StringReader(json)).readValue();
    }

    private JsonObject create(String prefix, String email, String endpoint) {
        String body = Json.createObjectBuilder().add("username", ApiClient.uniqueName(prefix)).add("password", "pw")
                .add("email", email).add("message_endpoint", endpoint).add("client", true).build().toString();
        ApiClient.Reply r = api.send("POST", "/api/users/", null, "application/json", body);
        assertEquals(201, r.status(), r.toString());
        return r.json();
    }

    private static JsonObject find(jakarta.json.JsonArray users, String id) {
        return users.stream().map(JsonValue::asJsonObject).filter(u -> u.getString("id").equals(id))
                .findFirst().orElseThrow(() -> new AssertionError(id + " not listed"));
    }

    private static jakarta.json.JsonArray array(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return parse(r.body()).asJsonArray();
    }

    private static JsonObject object(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return parse(r.body()).asJsonObject();
    }

    private static Map<String, String> cookieAttributes(String setCookie) {
        Map<String, String> attributes = new TreeMap<>();
        String[] parts = setCookie.split(";");
        for (int i = 1; i < parts.length; i++) {
            String part = parts[i].trim();
            int eq = part.indexOf('=');
            attributes.put((eq < 0 ? part : part.substring(0, eq)).toLowerCase(Locale.ROOT),
                    eq < 0 ? "" : part.substring(eq + 1));
        }
        return attributes;
    }

    /** A GET from 127.0.0.1 with the JDK client, HTTP/1.1. */
    private HttpResponse<String> http(String path, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(api.base() + path))
                .timeout(Duration.ofSeconds(60)).GET();
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return ApiClient.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * HTTP/1.1 over a socket bound to a chosen loopback source address (the JDK client of Java 17
     * cannot choose one): the server sees each test's failures coming from that address.
     */
    record Raw(String localAddress, String host, int port) {

        static Raw from(String localAddress) {
            URI base = URI.create(IntegrationEnvironment.baseUrl());
            return new Raw(localAddress, base.getHost(), base.getPort());
        }

        record Reply(int status, Map<String, List<String>> headers, String body) {
            String header(String name) {
                List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
                return values == null ? null : values.get(0);
            }

            @Override
            public String toString() {
                return status + " " + headers + " " + body;
            }
        }

        Reply get(String path, String authorization) {
            try (Socket socket = new Socket()) {
                socket.bind(new InetSocketAddress(localAddress, 0));
                socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
                socket.setSoTimeout(60_000);
                String request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n"
                        + (authorization == null ? "" : "Authorization: " + authorization + "\r\n")
                        + "Connection: close\r\n\r\n";
                OutputStream out = socket.getOutputStream();
                out.write(request.getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                return read(socket.getInputStream());
            } catch (IOException e) {
                throw new AssertionError("GET " + path + " from " + localAddress + " failed: " + e, e);
            }
        }

        private static Reply read(InputStream in) throws IOException {
            String statusLine = line(in);
            if (!statusLine.startsWith("HTTP/1.1 ")) {
                throw new AssertionError("not an HTTP/1.1 answer: " + statusLine);
            }
            int status = Integer.parseInt(statusLine.substring(9, 12));
            Map<String, List<String>> headers = new TreeMap<>();
            for (String h = line(in); !h.isEmpty(); h = line(in)) {
                int colon = h.indexOf(':');
                headers.computeIfAbsent(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                        .add(h.substring(colon + 1).trim());
            }
            byte[] body;
            if (headers.getOrDefault("transfer-encoding", List.of()).contains("chunked")) {
                ByteArrayOutputStream chunks = new ByteArrayOutputStream();
                for (int size = Integer.parseInt(line(in).split(";")[0].trim(), 16); size > 0;
                     size = Integer.parseInt(line(in).split(";")[0].trim(), 16)) {
                    chunks.write(in.readNBytes(size));
                    line(in);
                }
                body = chunks.toByteArray();
            } else if (headers.containsKey("content-length")) {
                body = in.readNBytes(Integer.parseInt(headers.get("content-length").get(0)));
            } else {
                body = in.readAllBytes();
            }
            return new Reply(status, headers, new String(body, StandardCharsets.UTF_8));
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new IOException("connection closed mid-line: " + line);
                }
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            return line.toString();
        }
    }
}
