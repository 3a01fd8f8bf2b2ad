package org.flserver.inference;

import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Tells whether the client of a request still waits for the answer, so that a model run whose
 * caller went away is stopped instead of burning a worker until its deadline.
 *
 * <p>Neither Servlet nor JAX-RS says when a client closes its connection while the application is
 * still working on the request: the container notices only when it next reads or writes. The
 * kernel knows at once: a client that closed its end puts the server's socket into
 * {@code CLOSE_WAIT}, and one that reset it removes the socket. This reads the kernel's TCP table
 * ({@code /proc/net/tcp} and {@code tcp6}, at most once per {@value #REFRESH_MILLIS} ms for all
 * watching requests together) and finds the request's connection by its two endpoints. Where
 * there is no such table (not Linux), a client is taken to be there until the deadline.
 * HTTP clients do not half-close a connection while they wait for an answer (curl, Python
 * {@code requests} and browsers keep both directions open), so {@code CLOSE_WAIT} means gone.
 */
@ApplicationScoped
public class ClientDisconnects {

    static final long REFRESH_MILLIS = 100;

    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));

    /** Kernel TCP states of a socket whose peer has closed its side (CLOSE_WAIT, LAST_ACK, CLOSING). */
    private static final Set<String> PEER_CLOSED = Set.of("08", "09", "0B");

    private long readAt; // guarded by this
    private Set<String> closed = Set.of(); // guarded by this
    private Set<String> open = Set.of(); // guarded by this

    /**
     * A check that turns true once the connection between {@code clientAddress:clientPort} and the
     * server's {@code localPort} is closed by the client; always false when the connection cannot
     * be identified.
     */
    public BooleanSupplier watch(String clientAddress, int clientPort, int localPort) {
        String remote = endpoint(clientAddress, clientPort);
        if (remote == null || localPort <= 0 || !Files.isReadable(TABLES.get(0))) {
            return () -> false;
        }
        String suffix = ":" + hex4(localPort) + "|" + remote;
        return () -> gone(suffix);
    }

    /** Closed, or missing while the table could be read (a reset or a fully closed socket). */
    private synchronized boolean gone(String connection) {
        refresh();
        if (open.isEmpty() && closed.isEmpty()) {
            return false;
        }
        return closed.stream().anyMatch(c -> c.endsWith(connection))
                || open.stream().noneMatch(c -> c.endsWith(connection));
    }

    private void refresh() {
        long now = System.nanoTime();
        if (readAt != 0 && now - readAt < REFRESH_MILLIS * 1_000_000) {
            return;
        }
        readAt = now;
        Set<String> nowOpen = new HashSet<>();
        Set<String> nowClosed = new HashSet<>();
        for (Path table : TABLES) {
            try {
                for (String line : Files.readAllLines(table, StandardCharsets.US_ASCII)) {
                    String[] f = line.strip().split("\\s+");
                    if (f.length < 4 || !f[0].endsWith(":")) {
                        continue; // the header
                    }
                    String local = f[1].toUpperCase(Locale.ROOT);
                    String remote = normalise(f[2].toUpperCase(Locale.ROOT));
                    String key = local + "|" + remote;
                    (PEER_CLOSED.contains(f[3]) ? nowClosed : nowOpen).add(key);
                }
            } catch (IOException | RuntimeException e) {
                // no tcp6 table (IPv6 off), or none at all: what could be read counts
            }
        }
        open = nowOpen;
        closed = nowClosed;
    }

    /**
     * The kernel's spelling of an IPv4 endpoint, whichever table it is in: {@code 0100007F:1F90}
     * for 127.0.0.1:8080; an IPv4-mapped IPv6 entry is reduced to the same, others stay IPv6.
     */
    private static String normalise(String endpoint) {
        int colon = endpoint.indexOf(':');
        String address = endpoint.substring(0, colon);
        if (address.length() == 32 && address.startsWith("0000000000000000FFFF0000")) {
            return address.substring(24) + endpoint.substring(colon);
        }
        return endpoint;
    }

    /** How the client's endpoint appears in the kernel's table (after {@link #normalise}), or null. */
    static String endpoint(String address, int port) {
        if (address == null || port <= 0 || port > 65535 || !address.matches("[0-9A-Fa-f:.\\[\\]]+")) {
            return null; // only literals: getByName must never look a name up
        }
        byte[] raw;
        try {
            raw = InetAddress.getByName(address.startsWith("[") ? address.substring(1, address.length() - 1)
                    : address).getAddress();
        } catch (UnknownHostException | SecurityException e) {
            return null;
        }
        if (raw.length == 16 && Arrays.equals(Arrays.copyOf(raw, 12),
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff})) {
            raw = Arrays.copyOfRange(raw, 12, 16);
        }
        StringBuilder hex = new StringBuilder();
        // the kernel prints each 32-bit word of the address in host (little-endian) byte order
        for (int word = 0; word < raw.length; word += 4) {
            for (int b = 3; b >= 0; b--) {
                hex.append(String.format(Locale.ROOT, "%02X", raw[word + b] & 0xff));
            }
        }
        return hex + ":" + hex4(port);
    }

    private static String hex4(int port) {
        return String.format(Locale.ROOT, "%04X", port);
    }
}
