package org.flserver.notification;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.flserver.notification.DeliveryPolicy.Attempt;

/**
 * POSTs one notification body and says how it went, never throwing. The request is what the
 * reference server's {@code requests.post(url, json=...)} sends and the DLR client expects:
 * HTTP/1.1, {@code Content-Type: application/json}, no authentication, and the body as a byte array
 * so that the client sends a {@code Content-Length} header. The DLR client reads that header and
 * answers 500 to a chunked request, and HTTP/2 (or an h2c upgrade) is something it does not speak.
 *
 * <p>Unlike the reference server, a try cannot hang: the connection must be made within the
 * connect timeout and the whole answer must arrive within the read timeout after that. Redirects
 * are not followed; a 3xx is an answer that is not 2xx.
 */
final class HttpNotifier {

    private final HttpClient client;
    private final Duration connectTimeout;
    private final Duration readTimeout;

    HttpNotifier(Duration connectTimeout, Duration readTimeout) {
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** POSTs {@code payload} to {@code endpoint} (exactly the stored URL). */
    Attempt post(String endpoint, String payload) {
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(new URI(endpoint))
                    .timeout(readTimeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(payload.getBytes(StandardCharsets.UTF_8)))
                    .build();
        } catch (Exception e) { // URISyntaxException, or IllegalArgumentException: not http(s), no host
            return Attempt.noAnswer("invalid endpoint '" + shortUrl(endpoint) + "': " + describe(e));
        }
        // The request timeout covers the wait for the answer's headers only; the deadline on the
        // future bounds the whole exchange, body included, and cancelling it aborts the exchange.
        CompletableFuture<HttpResponse<Void>> answer =
                client.sendAsync(request, HttpResponse.BodyHandlers.discarding());
        try {
            return Attempt.answered(answer.get(connectTimeout.plus(readTimeout).toMillis(), TimeUnit.MILLISECONDS)
                    .statusCode());
        } catch (TimeoutException e) {
            answer.cancel(true);
            return Attempt.noAnswer("no complete answer within " + connectTimeout.plus(readTimeout).toMillis() + " ms");
        } catch (ExecutionException e) {
            return Attempt.noAnswer(describe(e.getCause() == null ? e : e.getCause()));
        } catch (InterruptedException e) {
            answer.cancel(true);
            Thread.currentThread().interrupt();
            return Attempt.noAnswer("interrupted (server stopping)");
        }
    }

    /** The exception's type and message, and its cause's when the message is empty (refused, DNS). */
    static String describe(Throwable e) {
        StringBuilder out = new StringBuilder(e.getClass().getSimpleName());
        if (e.getMessage() != null && !e.getMessage().isBlank()) {
            out.append(": ").append(e.getMessage());
        } else if (e.getCause() != null && e.getCause() != e) {
            out.append(" (").append(describe(e.getCause())).append(')');
        }
        return out.toString();
    }

    private static String shortUrl(String endpoint) {
        return endpoint.length() <= 200 ? endpoint : endpoint.substring(0, 200) + "…";
    }
}
