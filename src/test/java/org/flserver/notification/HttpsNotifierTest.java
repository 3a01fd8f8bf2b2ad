package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.flserver.notification.DeliveryPolicy.Attempt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * https endpoints after the connect-time check: the notifier connects to the checked loopback
 * address, but TLS is for the endpoint's host name, so the receiver's certificate must be for
 * that name, not for the address. The receiver's key and certificate (for {@code client.test}) are
 * made by the JDK's keytool; the notifier trusts only that certificate.
 */
class HttpsNotifierTest {

    private static final char[] PASSWORD = "changeit".toCharArray();
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @TempDir
    static Path dir;

    private static HttpsServer server;
    private static SSLContext clientTls;
    private static final List<String> hosts = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void startReceiver() throws Exception {
        Path keystore = dir.resolve("receiver.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "receiver", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=client.test", "-ext", "SAN=dns:client.test", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", new String(PASSWORD), "-keypass", new String(PASSWORD))
                .redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), output);

        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, PASSWORD);
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(ks, PASSWORD);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(keys.getKeyManagers(), null, null);
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(ks);
        clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, trust.getTrustManagers(), null);

        server = HttpsServer.create(new InetSocketAddress(LOOPBACK, 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverTls));
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            hosts.add(exchange.getRequestHeaders().getFirst("Host"));
            exchange.sendResponseHeaders(202, -1);
            exchange.close();
        });
        server.start();
    }

    @AfterAll
    static void stopReceiver() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** Every name resolves to loopback; connections are counted by address. */
    private static HttpNotifier notifier(List<InetSocketAddress> connections) {
        return new HttpNotifier(Duration.ofSeconds(5), Duration.ofSeconds(5),
                AllowedNetworks.parse(AllowedNetworks.DEFAULT), host -> List.of(LOOPBACK),
                (address, timeoutMs) -> {
                    connections.add(address);
                    Socket s = new Socket();
                    s.connect(address, timeoutMs);
                    return s;
                }, clientTls.getSocketFactory());
    }

    private static int port() {
        return server.getAddress().getPort();
    }

    @Test
    void theCertificateMustBeForTheEndpointsNameWhileTheCheckedAddressIsUsed() {
        List<InetSocketAddress> connections = new CopyOnWriteArrayList<>();
        HttpNotifier n = notifier(connections);
        assertEquals(Attempt.answered(202), n.post("https://client.test:" + port() + "/notify", "{}"));
        assertEquals(List.of("client.test:" + port()), hosts);
        assertEquals(List.of(new InetSocketAddress(LOOPBACK, port())), connections);

        // the same address under another name, or as a literal: the certificate does not match
        for (String endpoint : List.of("https://other.test:" + port() + "/", "https://127.0.0.1:" + port() + "/")) {
            Attempt a = n.post(endpoint, "{}");
            assertFalse(a.answered(), endpoint);
            assertFalse(a.permanent(), endpoint);
            assertTrue(a.error().startsWith("SSLHandshakeException: No subject alternative"), a.error());
        }
        assertEquals(1, hosts.size(), hosts.toString());
    }

    @Test
    void aTrustStoreWithoutTheReceiversCertificateRefusesTheHandshake() {
        HttpNotifier untrusting = new HttpNotifier(Duration.ofSeconds(5), Duration.ofSeconds(5),
                AllowedNetworks.parse(AllowedNetworks.DEFAULT), host -> List.of(LOOPBACK));
        Attempt a = untrusting.post("https://client.test:" + port() + "/", "{}");
        assertFalse(a.answered());
        assertTrue(a.error().startsWith("SSLHandshakeException"), a.error());
    }
}
