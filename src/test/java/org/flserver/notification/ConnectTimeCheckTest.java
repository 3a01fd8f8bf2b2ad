package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import org.flserver.notification.DeliveryPolicy.Attempt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The address check at delivery: the notifier resolves the host itself (here through a fake
 * name service), refuses any disallowed address before connecting, and connects to exactly the
 * address it checked, sending the original name in the Host header. A name that rebinds from an
 * allowed address to a refused one between two deliveries is refused on the second, and no
 * connection goes anywhere but loopback. Also the plain HTTP/1.1 answers the notifier must read.
 */
class ConnectTimeCheckTest {

    private static final AllowedNetworks DEFAULT = AllowedNetworks.parse(AllowedNetworks.DEFAULT);
    private static final InetAddress LOOPBACK = address(127, 0, 0, 1);
    private static final InetAddress METADATA = address(169, 254, 169, 254);

    /** A loopback receiver that answers every request with one fixed raw answer. */
    private ServerSocket receiver;
    private Thread receiverThread;
    private final List<String> requestHeads = new CopyOnWriteArrayList<>();
    private volatile String rawAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

    /** Every connection the notifier opened, and the names it resolved. */
    private final List<InetSocketAddress> connections = new CopyOnWriteArrayList<>();
    private final List<String> resolved = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startReceiver() throws IOException {
        receiver = new ServerSocket(0, 50, LOOPBACK);
        receiverThread = new Thread(this::serve, "test receiver");
        receiverThread.setDaemon(true);
        receiverThread.start();
    }

    @AfterEach
    void stopReceiver() throws Exception {
        receiver.close();
        receiverThread.join(5000);
    }

    private void serve() {
        while (!receiver.isClosed()) {
            try (Socket s = receiver.accept()) {
                InputStream in = s.getInputStream();
                StringBuilder head = new StringBuilder();
                while (!head.toString().endsWith("\r\n\r\n")) {
                    int b = in.read();
                    if (b < 0) {
                        break;
                    }
                    head.append((char) b);
                }
                String h = head.toString();
                int length = Integer.parseInt(h.replaceAll("(?s).*Content-Length: (\\d+).*", "$1"));
                in.readNBytes(length);
                requestHeads.add(h);
                OutputStream out = s.getOutputStream();
                out.write(rawAnswer.getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            } catch (IOException e) {
                // closed by the test
            }
        }
    }

    private int port() {
        return receiver.getLocalPort();
    }

    /** Connects for real, to loopback only; anything else is recorded and refused here. */
    private Socket connect(InetSocketAddress address, int timeoutMs) throws IOException {
        connections.add(address);
        if (!address.getAddress().isLoopbackAddress()) {
            throw new IOException("the test connects to loopback only, not " + address);
        }
        Socket s = new Socket();
        s.connect(address, timeoutMs);
        return s;
    }

    /** A name service that answers each name from a queue of answers, the last one repeating. */
    private HttpNotifier.Resolver names(Map<String, List<List<InetAddress>>> answers) {
        Map<String, Deque<List<InetAddress>>> queues = new java.util.HashMap<>();
        answers.forEach((name, list) -> queues.put(name, new ConcurrentLinkedDeque<>(list)));
        return host -> {
            resolved.add(host);
            Deque<List<InetAddress>> q = queues.get(host);
            if (q == null) {
                throw new UnknownHostException(host);
            }
            return q.size() > 1 ? q.poll() : q.peek();
        };
    }

    private HttpNotifier notifier(AllowedNetworks networks, HttpNotifier.Resolver resolver) {
        return new HttpNotifier(Duration.ofSeconds(5), Duration.ofSeconds(5), networks, resolver, this::connect, null);
    }

    @Test
    void aNameIsResolvedAtDeliveryAndTheCheckedAddressIsUsedWithTheNameAsHost() {
        HttpNotifier n = notifier(DEFAULT, names(Map.of("client.test", List.of(List.of(LOOPBACK)))));
        assertEquals(Attempt.answered(200), n.post("http://client.test:" + port() + "/notify?a=1", "{\"x\":1}"));
        assertEquals(List.of("client.test"), resolved);
        assertEquals(List.of(new InetSocketAddress(LOOPBACK, port())), connections);
        String head = requestHeads.get(0);
        assertTrue(head.startsWith("POST /notify?a=1 HTTP/1.1\r\n"), head);
        assertTrue(head.contains("\r\nHost: client.test:" + port() + "\r\n"), head);
        assertTrue(head.contains("\r\nContent-Length: 7\r\n"), head);
        assertFalse(head.toLowerCase().contains("transfer-encoding"), head);
    }

    @Test
    void aNameThatRebindsToARefusedAddressIsRefusedWithoutAConnection() {
        HttpNotifier n = notifier(DEFAULT, names(Map.of("rebind.test", List.of(List.of(LOOPBACK), List.of(METADATA)))));
        String endpoint = "http://rebind.test:" + port() + "/";
        // at sign-up, and at the first delivery, the name pointed to loopback ...
        assertEquals(Attempt.answered(200), n.post(endpoint, "{}"));
        // ... then its owner points it at the metadata service
        Attempt second = n.post(endpoint, "{}");
        assertEquals(Attempt.refused("destination refused: rebind.test resolves to 169.254.169.254 (link-local address)"),
                second);
        assertEquals(List.of("rebind.test", "rebind.test"), resolved);
        assertEquals(List.of(new InetSocketAddress(LOOPBACK, port())), connections);
        assertEquals(1, requestHeads.size());
    }

    @Test
    void aNameWithAnyRefusedAddressIsRefusedAsAWhole() {
        InetAddress mappedMetadata = mapped(169, 254, 169, 254);
        HttpNotifier n = notifier(DEFAULT, names(Map.of(
                "mixed.test", List.of(List.of(LOOPBACK, METADATA)),
                "mapped.test", List.of(List.of(mappedMetadata)),
                "v6-metadata.test", List.of(List.of(v6("fd00:ec2::254"))))));
        assertEquals("destination refused: mixed.test resolves to 169.254.169.254 (link-local address)",
                n.post("http://mixed.test:" + port() + "/", "{}").error());
        assertEquals("destination refused: mapped.test resolves to 169.254.169.254 (link-local address)",
                n.post("http://mapped.test/", "{}").error());
        assertEquals("destination refused: v6-metadata.test resolves to fd00:ec2::254 (cloud metadata address)",
                n.post("https://v6-metadata.test/", "{}").error());
        assertTrue(connections.isEmpty(), connections.toString());
    }

    @Test
    void refusedLiteralsAndAmbiguousNumberFormsAreNeverResolvedNorConnected() {
        HttpNotifier n = notifier(DEFAULT, names(Map.of()));
        Map<String, String> refused = new java.util.LinkedHashMap<>();
        refused.put("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local address)");
        refused.put("http://[::ffff:169.254.169.254]/", "169.254.169.254 (link-local address)");
        refused.put("http://[::ffff:a9fe:a9fe]:80/", "169.254.169.254 (link-local address)");
        refused.put("http://[fd00:ec2::254]/", "fd00:ec2::254 (cloud metadata address)");
        refused.put("http://[fe80::1]:" + port() + "/", "fe80::1 (link-local address)");
        refused.put("http://0.0.0.0:" + port() + "/", "0.0.0.0 (unspecified address)");
        refused.put("http://[::]:" + port() + "/", ":: (unspecified address)");
        refused.put("http://224.0.0.1/", "224.0.0.1 (multicast address)");
        refused.put("http://255.255.255.255/", "255.255.255.255 (reserved or broadcast address)");
        refused.put("http://2852039166/", "'2852039166' is not a plain IP address or host name and can mean "
                + "169.254.169.254 (link-local address)");
        refused.put("http://010.0.0.1:" + port() + "/", "'010.0.0.1' is not a plain IP address or host name");
        refused.put("http://2130706433:" + port() + "/", "'2130706433' is not a plain IP address or host name");
        refused.put("http://[fe80::1%25eth0]/", "'[fe80::1%25eth0]' is not a plain IP address or host name and "
                + "can mean fe80::1 (link-local address)");
        refused.forEach((endpoint, reason) ->
                assertEquals(Attempt.refused("destination refused: " + reason), n.post(endpoint, "{}"), endpoint));
        assertTrue(resolved.isEmpty(), resolved.toString());
        assertTrue(connections.isEmpty(), connections.toString());
    }

    @Test
    void aNarrowedSettingRefusesLoopbackLiteralsAndNames() {
        AllowedNetworks narrowed = AllowedNetworks.parse("203.0.113.0/24");
        HttpNotifier n = notifier(narrowed, names(Map.of("localhost", List.of(List.of(LOOPBACK)))));
        assertEquals(Attempt.refused("destination refused: 127.0.0.1 (not in the allowed networks)"),
                n.post("http://127.0.0.1:" + port() + "/", "{}"));
        assertEquals(Attempt.refused("destination refused: localhost resolves to 127.0.0.1 (not in the allowed networks)"),
                n.post("http://localhost:" + port() + "/", "{}"));
        assertTrue(connections.isEmpty(), connections.toString());
        assertTrue(requestHeads.isEmpty());
    }

    @Test
    void anUnknownNameIsNoAnswerAndTriedAgain() {
        Attempt a = notifier(DEFAULT, names(Map.of())).post("http://nowhere.test/", "{}");
        assertFalse(a.answered());
        assertFalse(a.permanent());
        assertEquals("UnknownHostException: nowhere.test", a.error());
    }

    @Test
    void informationalAnswersAreSkippedAndTheFinalStatusCounts() {
        rawAnswer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        assertEquals(Attempt.answered(204), notifier(DEFAULT, names(Map.of())).post(url(), "{}"));
    }

    @Test
    void aChunkedAnswerOrOneWithoutLengthEndsWithTheConnection() {
        rawAnswer = "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assertEquals(Attempt.answered(202), notifier(DEFAULT, names(Map.of())).post(url(), "{}"));
        rawAnswer = "HTTP/1.0 500 Internal Server Error\r\n\r\noops";
        assertEquals(Attempt.answered(500), notifier(DEFAULT, names(Map.of())).post(url(), "{}"));
        rawAnswer = "HTTP/1.1 200\r\n\r\n"; // no reason phrase
        assertEquals(Attempt.answered(200), notifier(DEFAULT, names(Map.of())).post(url(), "{}"));
    }

    @Test
    void somethingThatIsNoHttpAnswerIsNoAnswer() {
        List<String> errors = new ArrayList<>();
        for (String garbage : List.of("SSH-2.0-OpenSSH_9.2\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\n")) {
            rawAnswer = garbage;
            Attempt a = notifier(DEFAULT, names(Map.of())).post(url(), "{}");
            assertFalse(a.answered(), garbage);
            assertFalse(a.permanent(), garbage);
            errors.add(a.error());
        }
        assertEquals(List.of("IOException: not an HTTP/1.x answer: 'SSH-2.0-OpenSSH_9.2'",
                "IOException: not an HTTP/1.x answer: 'HTTP/2 200'",
                "IOException: not an HTTP/1.x answer: 'HTTP/1.1 2000 OK'",
                "IOException: the receiver closed the connection before its answer was complete"), errors);
    }

    private String url() {
        return "http://127.0.0.1:" + port() + "/";
    }

    private static InetAddress address(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** {@code ::ffff:a.b.c.d} as an Inet6Address (getByAddress would make it an Inet4Address). */
    private static InetAddress mapped(int a, int b, int c, int d) {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) a;
        bytes[13] = (byte) b;
        bytes[14] = (byte) c;
        bytes[15] = (byte) d;
        try {
            return java.net.Inet6Address.getByAddress(null, bytes, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static InetAddress v6(String text) {
        try {
            return InetAddress.getByAddress(IpLiterals.ipv6(text));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
