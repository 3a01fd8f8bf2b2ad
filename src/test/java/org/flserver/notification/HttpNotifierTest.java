package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.flserver.notification.DeliveryPolicy.Attempt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What goes over the wire for one try, against a loopback server, and how failures are reported. */
class HttpNotifierTest {

    private HttpServer server;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger answer = new AtomicInteger(200);
    private volatile long answerDelayMs;

    record Request(String method, String protocol, String path, String host, String contentType,
                   String contentLength, String transferEncoding, String authorization, byte[] body) {
    }

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        server.start();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        byte[] body = exchange.getRequestBody().readAllBytes();
        var headers = exchange.getRequestHeaders();
        requests.add(new Request(exchange.getRequestMethod(), exchange.getProtocol(),
                exchange.getRequestURI().toString(), headers.getFirst("Host"), headers.getFirst("Content-Type"),
                headers.getFirst("Content-Length"), headers.getFirst("Transfer-Encoding"),
                headers.getFirst("Authorization"), body));
        try {
            Thread.sleep(answerDelayMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        byte[] reply = "{}".getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(answer.get(), reply.length);
        exchange.getResponseBody().write(reply);
        exchange.close();
    }

    private String url(String path) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    private static final AllowedNetworks DEFAULT_NETWORKS = AllowedNetworks.parse(AllowedNetworks.DEFAULT);

    /** These tests ask no name service: every name is unknown unless a test resolves it. */
    private static List<InetAddress> noNames(String host) throws UnknownHostException {
        throw new UnknownHostException(host + " (the test resolves no names)");
    }

    private static HttpNotifier notifier(long readTimeoutMs) {
        return new HttpNotifier(Duration.ofSeconds(2), Duration.ofMillis(readTimeoutMs), DEFAULT_NETWORKS,
                HttpNotifierTest::noNames);
    }

    @Test
    void postsTheExactBytesWithAContentLengthOverHttp11() {
        String payload = "{\"notification_type\":\"TRAINING_START\",\"body\":{\"global_model_uuid\":\"ü\"},"
                + "\"training_uuid\":\"x\"}";
        Attempt a = notifier(5000).post(url("/notify/me?x=1"), payload);
        assertEquals(Attempt.answered(200), a);
        assertEquals(1, requests.size());
        Request r = requests.get(0);
        byte[] expected = payload.getBytes(StandardCharsets.UTF_8);
        assertEquals("POST", r.method());
        assertEquals("HTTP/1.1", r.protocol());
        assertEquals("/notify/me?x=1", r.path());
        assertEquals("127.0.0.1:" + server.getAddress().getPort(), r.host());
        assertEquals("application/json", r.contentType());
        assertEquals(String.valueOf(expected.length), r.contentLength());
        assertNull(r.transferEncoding());
        assertNull(r.authorization());
        assertArrayEquals(expected, r.body());
    }

    @Test
    void aNon2xxAnswerIsReportedAsAnswered() {
        answer.set(500);
        assertEquals(Attempt.answered(500), notifier(5000).post(url("/"), "{}"));
        answer.set(302);
        assertEquals(Attempt.answered(302), notifier(5000).post(url("/"), "{}")); // redirects are not followed
        assertEquals(2, requests.size());
    }

    @Test
    void aRefusedConnectionIsNoAnswer() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        Attempt a = notifier(5000).post("http://127.0.0.1:" + closedPort + "/", "{}");
        assertFalse(a.answered());
        assertTrue(a.error().contains("ConnectException"), a.error());
    }

    @Test
    void aSlowReceiverTimesOut() {
        answerDelayMs = 2000;
        long start = System.nanoTime();
        Attempt a = notifier(300).post(url("/"), "{}");
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertFalse(a.answered());
        assertTrue(a.error().contains("imeout") || a.error().contains("timed out"), a.error());
        assertTrue(tookMs < 1900, "took " + tookMs + " ms");
    }

    @Test
    void invalidEndpointsAreNoAnswerWithoutAnyRequest() {
        for (String bad : List.of("", "not a url", "ftp://host/x", "http://", "/relative/path", "mailto:a@b")) {
            Attempt a = notifier(1000).post(bad, "{}");
            assertFalse(a.answered(), bad);
            assertTrue(a.error().startsWith("invalid endpoint"), bad + ": " + a.error());
        }
        assertTrue(requests.isEmpty());
    }
}
