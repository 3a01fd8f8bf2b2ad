package org.flserver.it;

import com.sun.net.httpserver.HttpServer;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A participant's notification endpoint for end-to-end tests: a loopback HTTP server that records
 * every notification the server POSTs (api.md §8.1) and answers with a status the test chooses
 * (the DLR client answers 200 or 202; a rejecting client 500). It also records whether each request
 * came with a Content-Length and without chunked encoding, as the DLR client requires (docs/api.md §8.2).
 * What the client does in response (uploads, metrics) is the test's business.
 */
public final class SimulatedClient implements AutoCloseable {

    /** One notification as received, and when (this JVM's clock, once its body was read). */
    public record Received(String type, int round, String modelId, String trainingId, boolean contentLength,
                    boolean chunked, Instant at) {
        /** {@code TYPE} or {@code TYPE:round} for round-type notifications, for readable assertions. */
        String label() {
            return round < 0 ? type : type + ":" + round;
        }
    }

    private final HttpServer server;
    private final List<Received> received = new ArrayList<>();
    private volatile int status = 200;

    SimulatedClient() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", exchange -> {
            String length = exchange.getRequestHeaders().getFirst("Content-Length");
            String encoding = exchange.getRequestHeaders().getFirst("Transfer-Encoding");
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            Instant at = Instant.now();
            int answer = status;
            try (JsonReader reader = Json.createReader(new StringReader(new String(body, StandardCharsets.UTF_8)))) {
                JsonObject json = reader.readObject();
                JsonObject b = json.getJsonObject("body");
                Received r = new Received(json.getString("notification_type"),
                        b.containsKey("round") ? b.getInt("round") : -1,
                        b.getString("global_model_uuid", null), json.getString("training_uuid"),
                        length != null, encoding != null && encoding.toLowerCase().contains("chunked"), at);
                synchronized (received) {
                    received.add(r);
                    received.notifyAll();
                }
            } catch (RuntimeException e) {
                answer = 500; // as the DLR client does on anything it cannot parse
            }
            exchange.sendResponseHeaders(answer, -1);
            exchange.close();
        });
        server.start();
    }

    /** The URL to register as the user's message_endpoint. */
    public String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/notify";
    }

    /** The status every further notification is answered with. */
    void answerWith(int status) {
        this.status = status;
    }

    List<Received> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    List<String> labels() {
        return received().stream().map(Received::label).toList();
    }

    /** Waits for the first notification of {@code type} (and {@code round}, unless negative). */
    public Received await(String type, int round, Duration timeout) {
        return await(r -> r.type().equals(type) && (round < 0 || r.round() == round), type + ":" + round, timeout);
    }

    Received await(Predicate<Received> wanted, String what, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (received) {
            while (true) {
                for (Received r : received) {
                    if (wanted.test(r)) {
                        return r;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no " + what + " notification within " + timeout + "; received " + labels());
                }
                try {
                    received.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
