package org.flserver.notification;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.flserver.notification.AllowedNetworks.Refusal;
import org.flserver.notification.DeliveryPolicy.Attempt;

/**
 * POSTs one notification body and says how it went, never throwing. The request is what the
 * reference server's {@code requests.post(url, json=...)} sends and the DLR client expects:
 * HTTP/1.1, {@code Content-Type: application/json}, no authentication, and the body with a
 * {@code Content-Length} header. The DLR client reads that header and answers 500 to a chunked
 * request, and HTTP/2 (or an h2c upgrade) is something it does not speak.
 *
 * <p><b>Only to allowed addresses, checked at connect time.</b> The host of the endpoint is
 * resolved here, every address it resolves to is checked against {@link AllowedNetworks}, and
 * the connection goes to exactly one of the checked addresses. A check at sign-up alone would not
 * do: the name's owner can make it resolve elsewhere later (DNS rebinding), and an HTTP client
 * that takes the URL resolves the name again when it connects. That is why this class speaks
 * HTTP/1.1 over a socket itself: the JDK's HttpClient and HttpURLConnection resolve the host
 * themselves and refuse to let the caller set the {@code Host} header. A refused destination
 * is a {@linkplain Attempt#refused permanent failure}; no connection is attempted.
 *
 * <p>The connection goes directly, never through a proxy (a proxy would connect to the name on
 * its own). For https the TLS handshake names the original host (SNI) and the certificate must
 * match it, as with any https client.
 *
 * <p>Unlike the reference server, a try cannot hang: the connection must be made within the
 * connect timeout, and the status line and headers of the answer must arrive within the read
 * timeout after that. The rest of the answer is read (up to {@value #MAX_DRAINED_BYTES} bytes,
 * still within that time) only so that the receiver can finish writing it; nothing in it counts.
 * Redirects are not followed: a 3xx is an answer that is not 2xx.
 */
final class HttpNotifier {

    /** Resolves a host name at delivery; the JDK's name service in production. */
    @FunctionalInterface
    interface Resolver {
        List<InetAddress> resolve(String host) throws UnknownHostException;
    }

    /** Opens a TCP connection to one checked address within a timeout. */
    @FunctionalInterface
    interface Connector {
        Socket connect(InetSocketAddress address, int timeoutMs) throws IOException;
    }

    /** Longest status line or header line accepted, and most header lines. */
    private static final int MAX_LINE = 8192;
    private static final int MAX_HEADERS = 100;

    /** How much of an answer's body is read before the connection is closed anyway. */
    static final int MAX_DRAINED_BYTES = 1 << 20;

    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final AllowedNetworks networks;
    private final Resolver resolver;
    private final Connector connector;
    /** TLS for https endpoints; null: the JVM's default context (its trust store), as any https client. */
    private final SSLSocketFactory tls;

    HttpNotifier(Duration connectTimeout, Duration readTimeout, AllowedNetworks networks, Resolver resolver) {
        this(connectTimeout, readTimeout, networks, resolver, HttpNotifier::connectDirectly, null);
    }

    HttpNotifier(Duration connectTimeout, Duration readTimeout, AllowedNetworks networks, Resolver resolver,
                 Connector connector, SSLSocketFactory tls) {
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.networks = networks;
        this.resolver = resolver;
        this.connector = connector;
        this.tls = tls;
    }

    /** POSTs {@code payload} to {@code endpoint} (exactly the stored URL). */
    Attempt post(String endpoint, String payload) {
        Destination destination;
        try {
            destination = Destination.parse(endpoint);
        } catch (IllegalArgumentException e) {
            return Attempt.noAnswer("invalid endpoint '" + shortText(endpoint) + "': " + e.getMessage());
        }
        List<InetAddress> addresses;
        try {
            addresses = checkedAddresses(destination);
        } catch (RefusedDestination e) {
            return Attempt.refused(e.getMessage());
        } catch (UnknownHostException | RuntimeException e) { // a name service that fails may answer later
            return Attempt.noAnswer(describe(e));
        }
        try {
            return Attempt.answered(exchange(destination, addresses, payload.getBytes(StandardCharsets.UTF_8)));
        } catch (IOException | RuntimeException e) {
            if (Thread.currentThread().isInterrupted()) {
                return Attempt.noAnswer("interrupted (server stopping)");
            }
            return Attempt.noAnswer(describe(e));
        }
    }

    /**
     * The addresses to connect to, every one allowed: the literal, or all the name resolves to
     * now. A name with any refused address is refused as a whole rather than connected to by
     * its other addresses: a genuine receiver's name does not point into the refused ranges, and
     * one that does is treated as the attack it looks like.
     */
    private List<InetAddress> checkedAddresses(Destination d) throws RefusedDestination, UnknownHostException {
        switch (d.kind()) {
            case AMBIGUOUS -> {
                Optional<Refusal> refused = d.refusedReading(networks);
                throw new RefusedDestination("'" + shortText(d.host()) + "' is not a plain IP address or host name"
                        + refused.map(r -> " and can mean " + r.address() + " (" + r.reason() + ")").orElse(""));
            }
            case LITERAL -> {
                InetAddress address = d.literal();
                Optional<Refusal> refused = networks.refusal(address);
                if (refused.isPresent()) {
                    throw new RefusedDestination(refused.get().address() + " (" + refused.get().reason() + ")");
                }
                return List.of(address);
            }
            default -> {
                List<InetAddress> addresses = resolver.resolve(d.host());
                if (addresses == null || addresses.isEmpty()) {
                    throw new UnknownHostException(d.host() + ": no address");
                }
                for (InetAddress address : addresses) {
                    Optional<Refusal> refused = networks.refusal(address);
                    if (refused.isPresent()) {
                        throw new RefusedDestination(shortText(d.host()) + " resolves to " + refused.get().address()
                                + " (" + refused.get().reason() + ")");
                    }
                }
                return addresses;
            }
        }
    }

    /** The status of the final answer to one POST over a new connection to one of {@code addresses}. */
    private int exchange(Destination d, List<InetAddress> addresses, byte[] body) throws IOException {
        Socket plain = connect(d, addresses);
        try (plain) { // closing it also ends a TLS session layered over it
            long deadline = System.nanoTime() + readTimeout.toNanos();
            // bounds each read of the TLS handshake; the answer is read against the deadline
            plain.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, readTimeout.toMillis())));
            Socket socket = d.https() ? startTls(plain, d) : plain;
            String head = "POST " + d.target() + " HTTP/1.1\r\n"
                    + "Host: " + d.hostHeader() + "\r\n"
                    + "User-Agent: fl-server\r\n"
                    + "Content-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n"
                    + "Connection: close\r\n"
                    + "\r\n";
            OutputStream out = socket.getOutputStream();
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            InputStream in = new BufferedInputStream(new DeadlineInput(socket, deadline, readTimeout));
            Answer answer;
            do {
                answer = readHead(in);
            } while (answer.status() >= 100 && answer.status() < 200 && answer.status() != 101);
            drain(in, answer);
            return answer.status();
        }
    }

    /** Connects to the first of the checked addresses that answers, all within the connect timeout. */
    private Socket connect(Destination d, List<InetAddress> addresses) throws IOException {
        long deadline = System.nanoTime() + connectTimeout.toNanos();
        IOException last = null;
        for (InetAddress address : addresses) {
            long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMs < 1) {
                break;
            }
            try {
                return connector.connect(new InetSocketAddress(address, d.port()), (int) Math.min(Integer.MAX_VALUE,
                        remainingMs));
            } catch (IOException e) {
                last = e;
                if (Thread.currentThread().isInterrupted()) {
                    throw e;
                }
            }
        }
        throw last != null ? last : new SocketTimeoutException("connect timed out");
    }

    /**
     * TLS over the connected socket, for the endpoint's host name: SNI names it and the
     * certificate must be for it (for an IP literal, for that address).
     */
    private Socket startTls(Socket plain, Destination d) throws IOException {
        String host = d.host().startsWith("[") ? d.host().substring(1, d.host().length() - 1) : d.host();
        SSLSocketFactory factory;
        try {
            factory = this.tls != null ? this.tls : SSLContext.getDefault().getSocketFactory();
        } catch (NoSuchAlgorithmException e) {
            throw new IOException("no TLS available: " + e.getMessage(), e);
        }
        SSLSocket tls = (SSLSocket) factory.createSocket(plain, host, d.port(), true);
        SSLParameters parameters = tls.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        if (d.kind() == Destination.HostKind.NAME) {
            try {
                parameters.setServerNames(List.of(new SNIHostName(host.endsWith(".")
                        ? host.substring(0, host.length() - 1) : host)));
            } catch (IllegalArgumentException e) {
                // Not a name SNI can carry; the handshake goes without it and the certificate is still checked.
            }
        }
        tls.setSSLParameters(parameters);
        tls.startHandshake();
        return tls;
    }

    /** The status line and headers of one answer; only what deciding and draining need. */
    private record Answer(int status, long contentLength, boolean chunked) {
    }

    private static Answer readHead(InputStream in) throws IOException {
        String statusLine = readLine(in);
        // "HTTP/1.1 200 OK"; the reason phrase may be empty or missing
        if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' '
                || !statusLine.substring(9, 12).chars().allMatch(c -> c >= '0' && c <= '9')
                || (statusLine.length() > 12 && statusLine.charAt(12) != ' ')) {
            throw new IOException("not an HTTP/1.x answer: '" + shortText(statusLine) + "'");
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long contentLength = -1;
        boolean chunked = false;
        for (int lines = 0; ; lines++) {
            String line = readLine(in);
            if (line.isEmpty()) {
                break;
            }
            if (lines >= MAX_HEADERS) {
                throw new IOException("more than " + MAX_HEADERS + " header lines in the answer");
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue; // a malformed header line says nothing the status does not
            }
            String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            if (name.equals("content-length")) {
                try {
                    contentLength = Long.parseLong(value);
                } catch (NumberFormatException e) {
                    contentLength = -1;
                }
            } else if (name.equals("transfer-encoding")) {
                chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
            }
        }
        return new Answer(status, contentLength, chunked);
    }

    /** One line up to CRLF (or LF), without it, read as ISO-8859-1. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the receiver closed the connection before its answer was complete");
            }
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
            }
            if (line.size() >= MAX_LINE) {
                throw new IOException("a line of the answer is longer than " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
    }

    /**
     * Reads what is left of the answer, so that a receiver still writing it is not cut off. Its
     * end is the Content-Length, or the end of the connection (the request asked for that);
     * failures and timeouts here change nothing, the status is known.
     */
    private static void drain(InputStream in, Answer answer) {
        if (answer.status() == 204 || answer.status() == 304) {
            return;
        }
        long limit = answer.contentLength() >= 0 && !answer.chunked()
                ? Math.min(answer.contentLength(), MAX_DRAINED_BYTES)
                : MAX_DRAINED_BYTES;
        try {
            long skipped = 0;
            byte[] buffer = new byte[8192];
            while (skipped < limit) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, limit - skipped));
                if (n < 0) {
                    return;
                }
                skipped += n;
            }
        } catch (IOException e) {
            // nothing: see above
        }
    }

    /**
     * The socket's input with one deadline for everything read: each read may wait only for
     * the time left, so a receiver that trickles its answer byte by byte cannot stretch a try.
     */
    private static final class DeadlineInput extends InputStream {
        private final Socket socket;
        private final InputStream in;
        private final long deadline;
        private final Duration readTimeout;

        DeadlineInput(Socket socket, long deadline, Duration readTimeout) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.deadline = deadline;
            this.readTimeout = readTimeout;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMs < 1) {
                throw new SocketTimeoutException("no answer within " + readTimeout.toMillis() + " ms");
            }
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, remainingMs));
            try {
                return in.read(b, off, len);
            } catch (SocketTimeoutException e) {
                throw new SocketTimeoutException("no answer within " + readTimeout.toMillis() + " ms");
            }
        }
    }

    /**
     * A plain TCP connection, without any proxy: a channel's socket, so that interrupting the
     * thread (the dispatcher stopping) closes it instead of leaving it blocked.
     */
    private static Socket connectDirectly(InetSocketAddress address, int timeoutMs) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            Socket socket = channel.socket();
            socket.connect(address, timeoutMs);
            return socket;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** A destination that may not be notified; its message says why. */
    private static final class RefusedDestination extends Exception {
        RefusedDestination(String reason) {
            super("destination refused: " + reason, null, false, false);
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

    private static String shortText(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "…";
    }
}
