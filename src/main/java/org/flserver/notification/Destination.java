package org.flserver.notification;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A {@code message_endpoint} taken apart for delivery: scheme, host, port, request target, and
 * what the host is — an IP literal (the address is known without asking anyone), a host name
 * (resolved at delivery), or an ambiguous number form. The same reading serves the check at
 * sign-up and the connection at delivery, so both see the same address.
 *
 * <p>Ambiguous hosts are those that some HTTP stack would read as an IPv4 address although they
 * are not a plain dotted quad: {@code 2852039166}, {@code 0251.0376.0251.0376}, and {@code
 * 010.0.0.1}, which C reads as 8.0.0.1 and Java as 10.0.0.1; and IPv6 literals with a zone.
 * They are never connected to; {@link #readings()} lists what they could mean, so that sign-up
 * can say which refused address one stands for.
 */
public final class Destination {

    /** What the host of an endpoint is. */
    public enum HostKind {
        /** A dotted quad or a bracketed IPv6 literal: {@link #literal()} is the address. */
        LITERAL,
        /** A host name, resolved at delivery. */
        NAME,
        /** A number form that is not a plain literal, or an IPv6 literal with a zone: never used. */
        AMBIGUOUS
    }

    private final boolean https;
    private final String host;
    private final int port;
    private final boolean explicitPort;
    private final String target;
    private final HostKind kind;
    private final byte[] literal;
    private final List<byte[]> readings;

    private Destination(boolean https, String host, int port, boolean explicitPort, String target, HostKind kind,
                        byte[] literal, List<byte[]> readings) {
        this.https = https;
        this.host = host;
        this.port = port;
        this.explicitPort = explicitPort;
        this.target = target;
        this.kind = kind;
        this.literal = literal;
        this.readings = readings;
    }

    /**
     * Reads an endpoint: an absolute http(s) URL with a host, as {@link java.net.URI} reads it
     * (which already refuses hosts such as {@code 127.1} and percent-encoded ones).
     *
     * @throws IllegalArgumentException if it is none
     */
    public static Destination parse(String endpoint) {
        URI uri;
        try {
            uri = new URI(endpoint);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        String scheme = uri.getScheme();
        if (!uri.isAbsolute() || uri.isOpaque()
                || !("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme))) {
            throw new IllegalArgumentException("not an http or https URL");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("no host");
        }
        boolean https = "https".equalsIgnoreCase(scheme);
        int port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " out of range");
        }
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        String target = uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();

        if (host.startsWith("[")) {
            String inner = host.substring(1, host.length() - 1);
            int zone = inner.indexOf('%');
            byte[] v6 = IpLiterals.ipv6(zone < 0 ? inner : inner.substring(0, zone));
            if (v6 == null) {
                throw new IllegalArgumentException("invalid IPv6 literal");
            }
            return zone < 0
                    ? new Destination(https, host, port, uri.getPort() >= 0, target, HostKind.LITERAL, v6, List.of(v6))
                    : new Destination(https, host, port, uri.getPort() >= 0, target, HostKind.AMBIGUOUS, null,
                            List.of(v6));
        }
        byte[] v4 = IpLiterals.strictIpv4(host);
        if (v4 != null) {
            return new Destination(https, host, port, uri.getPort() >= 0, target, HostKind.LITERAL, v4, List.of(v4));
        }
        List<byte[]> readings = IpLiterals.ipv4Readings(host);
        return new Destination(https, host, port, uri.getPort() >= 0, target,
                readings.isEmpty() ? HostKind.NAME : HostKind.AMBIGUOUS, null, readings);
    }

    public boolean https() {
        return https;
    }

    /** The host as written in the URL (IPv6 in brackets): for the Host header and TLS. */
    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** The path and query to request, {@code /} at least. */
    String target() {
        return target;
    }

    /** The Host header: the host, with the port if the URL names one. */
    String hostHeader() {
        return explicitPort ? host + ":" + port : host;
    }

    public HostKind kind() {
        return kind;
    }

    /** The address of a {@link HostKind#LITERAL} host. */
    public InetAddress literal() {
        return literal == null ? null : byAddress(literal);
    }

    /** Every address the host can stand for: the literal's, or an ambiguous form's readings. */
    public List<InetAddress> readings() {
        return readings.stream().map(Destination::byAddress).toList();
    }

    /**
     * Whether the host is one of the names that always mean this machine (RFC 6761: {@code
     * localhost} and any name under {@code .localhost}), and the common aliases of /etc/hosts.
     */
    public boolean isLoopbackName() {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h.equals("localhost") || h.endsWith(".localhost") || h.equals("localhost.localdomain")
                || h.equals("ip6-localhost") || h.equals("ip6-loopback");
    }

    /** The first refused address of {@link #readings()}, or empty (also for a name). */
    public Optional<AllowedNetworks.Refusal> refusedReading(AllowedNetworks networks) {
        return readings().stream().map(networks::refusal).flatMap(Optional::stream).findFirst();
    }

    private static InetAddress byAddress(byte[] address) {
        try {
            return InetAddress.getByAddress(address); // a raw address: no look-up
        } catch (UnknownHostException e) {
            throw new IllegalStateException("not 4 or 16 bytes", e);
        }
    }
}
