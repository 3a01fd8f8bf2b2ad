package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The disconnect check against the kernel's real TCP table: a server socket on loopback accepts a
 * connection, as the HTTP listener would, and the check must say "still there" while the client
 * keeps it open and "gone" once the client closes or resets it.
 */
class ClientDisconnectsTest {

    /** Polls until the check turns true; the bound only keeps a broken check from hanging the build. */
    private static boolean becomesTrue(BooleanSupplier check) throws InterruptedException {
        for (int i = 0; i < 300; i++) {
            if (check.getAsBoolean()) {
                return true;
            }
            Thread.sleep(ClientDisconnects.REFRESH_MILLIS);
        }
        return false;
    }

    private static void assertDetected(boolean reset, InetAddress loopback) throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "Linux only");
        ClientDisconnects disconnects = new ClientDisconnects();
        try (ServerSocket server = new ServerSocket(0, 5, loopback)) {
            Socket client = new Socket();
            client.connect(new InetSocketAddress(loopback, server.getLocalPort()));
            try (Socket accepted = server.accept()) {
                // what the container reports for the request: the peer's address and port, its own port
                BooleanSupplier gone = disconnects.watch(accepted.getInetAddress().getHostAddress(),
                        accepted.getPort(), accepted.getLocalPort());
                Thread.sleep(2 * ClientDisconnects.REFRESH_MILLIS);
                assertFalse(gone.getAsBoolean(), "the client is still connected");
                if (reset) {
                    client.setSoLinger(true, 0);
                }
                client.close();
                assertTrue(becomesTrue(gone), "the closed connection is noticed");
            }
        }
    }

    @Test
    void aClosedConnectionIsNoticedAndAnOpenOneIsNot() throws Exception {
        assertDetected(false, InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void aResetConnectionIsNoticed() throws Exception {
        assertDetected(true, InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void ipv6ConnectionsAreFoundInTheirTable() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/net/tcp6")), "IPv6 on");
        assertDetected(false, InetAddress.getByName("::1"));
    }

    @Test
    void endpointsAreSpelledAsTheKernelDoes() {
        assertEquals("0100007F:1F90", ClientDisconnects.endpoint("127.0.0.1", 8080));
        assertEquals("0100007F:0050", ClientDisconnects.endpoint("::ffff:127.0.0.1", 80));
        assertEquals("00000000000000000000000001000000:0016", ClientDisconnects.endpoint("[::1]", 22));
        assertNull(ClientDisconnects.endpoint(null, 1));
        assertNull(ClientDisconnects.endpoint("127.0.0.1", 0));
    }

    @Test
    void aRequestThatCannotBeIdentifiedIsNeverTakenForGone() {
        assertFalse(new ClientDisconnects().watch("not an address", 1234, 8080).getAsBoolean());
        assertFalse(new ClientDisconnects().watch("127.0.0.1", 1234, -1).getAsBoolean());
    }
}
