package org.flserver.it;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonStructure;
import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * A small HTTP client for the integration tests against the shared server: raw requests with any
 * method, header and body, plus helpers for the common steps (create a user, authenticate as it).
 */
public final class ApiClient {

    /**
     * Pinned to HTTP/1.1, as curl, Python requests and browsers speak to the server. Left alone, the
     * JDK client upgrades to HTTP/2 (h2c), where Payara's HTTP layer treats request bodies differently
     * (a DELETE with a body passes there and is refused over HTTP/1.1 unless the server allows it), so
     * a test over HTTP/2 would not see what users see.
     */
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();

    private final String base;

    /** A client of the shared server. */
    public ApiClient() {
        this(IntegrationEnvironment.baseUrl());
    }

    public ApiClient(String base) {
        this.base = base;
    }

    public String base() {
        return base;
    }

    /** A response with its body as text, parsed on demand. */
    public record Reply(int status, String body, java.net.http.HttpHeaders headers) {
        public JsonObject json() {
            JsonStructure s = parse();
            if (!(s instanceof JsonObject o)) {
                throw new AssertionError("expected a JSON object, got: " + body);
            }
            return o;
        }

        public JsonArray array() {
            JsonStructure s = parse();
            if (!(s instanceof JsonArray a)) {
                throw new AssertionError("expected a JSON array, got: " + body);
            }
            return a;
        }

        public String detail() {
            return json().getString("detail");
        }

        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        private JsonStructure parse() {
            try (JsonReader r = Json.createReader(new StringReader(body))) {
                return r.read();
            } catch (RuntimeException e) {
                throw new AssertionError("not JSON (status " + status + "): " + body, e);
            }
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    /** A user created through the API, with its password and token. */
    public record Account(UUID id, String username, String password, String token) {
        public String tokenHeader() {
            return "Token " + token;
        }

        public String basicHeader() {
            return ApiClient.basic(username, password);
        }
    }

    public static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    public static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public Account createUser(String prefix) {
        return createUser(prefix, "");
    }

    public Account createUser(String prefix, String messageEndpoint) {
        String username = uniqueName(prefix);
        String password = "pw-" + UUID.randomUUID();
        JsonObject body = Json.createObjectBuilder().add("username", username).add("password", password)
                .add("actor", true).add("client", true).add("message_endpoint", messageEndpoint).build();
        Reply r = send("POST", "/api/users/", null, "application/json", body.toString());
        if (r.status() != 201) {
            throw new AssertionError("user creation failed: " + r);
        }
        JsonObject u = r.json();
        return new Account(UUID.fromString(u.getString("id")), username, password, u.getString("token"));
    }

    public Reply get(String path, Account as) {
        return send("GET", path, as == null ? null : as.tokenHeader(), null, null);
    }

    public Reply postJson(String path, Account as, String json) {
        return send("POST", path, as == null ? null : as.tokenHeader(), "application/json", json);
    }

    public Reply send(String method, String path, String authorization, String contentType, String body) {
        return sendBytes(method, path, authorization, contentType,
                body == null ? null : body.getBytes(StandardCharsets.UTF_8));
    }

    public Reply sendBytes(String method, String path, String authorization, String contentType, byte[] body) {
        return exchange(method, path, authorization, contentType, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(body));
    }

    /** Any request with any body publisher (streamed, chunked), answered within two minutes. */
    public Reply exchange(String method, String path, String authorization, String contentType,
                          HttpRequest.BodyPublisher body) {
        try {
            return reply(send(request(method, path, authorization, contentType, body),
                    HttpResponse.BodyHandlers.ofString()));
        } catch (IOException e) {
            throw new AssertionError(method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** A request with any headers (e.g. a browser's {@code Origin}) and a text body or none. */
    public Reply sendWithHeaders(String method, String path, java.util.Map<String, String> headers, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(request::header);
        try {
            return reply(send(request.build(), HttpResponse.BodyHandlers.ofString()));
        } catch (IOException e) {
            throw new AssertionError(method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /**
     * Any prepared request, over HTTP/1.1 like every request of the tests; fails if the answer came
     * over another version.
     */
    public static <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
            throws IOException, InterruptedException {
        return checked(HTTP.send(request, handler));
    }

    private static <T> HttpResponse<T> checked(HttpResponse<T> response) {
        if (response.version() != HttpClient.Version.HTTP_1_1) {
            throw new AssertionError("answered over " + response.version() + ", not HTTP/1.1");
        }
        return response;
    }

    /** The same request without waiting for its answer. */
    public CompletableFuture<Reply> exchangeAsync(String method, String path, String authorization,
                                                  String contentType, HttpRequest.BodyPublisher body) {
        return HTTP.sendAsync(request(method, path, authorization, contentType, body),
                HttpResponse.BodyHandlers.ofString()).thenApply(r -> reply(checked(r)));
    }

    private HttpRequest request(String method, String path, String authorization, String contentType,
                                HttpRequest.BodyPublisher body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120))
                .method(method, body);
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        return request.build();
    }

    private static Reply reply(HttpResponse<String> response) {
        return new Reply(response.statusCode(), response.body(), response.headers());
    }

    /** Sends a request and returns the raw bytes of the answer (downloads). */
    public HttpResponse<byte[]> download(String path, Account as) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", as.tokenHeader()).GET().build();
        try {
            return send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new AssertionError("GET " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
