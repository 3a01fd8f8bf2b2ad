package org.flserver.platform;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The origins that browsers may call the API from with the user's credentials, read from
 * {@code fl.cors.allowed-origins}: a comma-separated list of exact origins
 * ({@code scheme://host[:port]}, as a browser sends them in {@code Origin}). The web frontend
 * logs in with {@code Authorization} headers, so every allowed origin is answered with
 * {@code Access-Control-Allow-Credentials: true}; that is why {@code *} (any site) is refused
 * rather than taken as "echo every origin", which would let any web page act with a logged-in
 * user's credentials. An empty setting allows no origin, and then no CORS header is sent at all.
 */
public final class CorsOrigins {

    public static final String PROPERTY = "fl.cors.allowed-origins";

    private final Set<String> origins;

    private CorsOrigins(Set<String> origins) {
        this.origins = origins;
    }

    /**
     * Reads the setting; null or blank allows nothing.
     *
     * @throws IllegalArgumentException naming the first entry that is no origin
     */
    public static CorsOrigins parse(String setting) {
        Set<String> origins = new LinkedHashSet<>();
        if (setting != null) {
            for (String entry : setting.split(",")) {
                String origin = entry.strip();
                if (!origin.isEmpty()) {
                    origins.add(origin(origin));
                }
            }
        }
        return new CorsOrigins(Set.copyOf(origins));
    }

    /** Whether anything is allowed at all; if not, the API sends no CORS headers. */
    public boolean enabled() {
        return !origins.isEmpty();
    }

    /** Whether the value of a request's {@code Origin} header is one of the allowed origins. */
    public boolean allows(String origin) {
        return origin != null && origins.contains(origin.toLowerCase(Locale.ROOT));
    }

    /** One entry as browsers serialise origins: lower case, no default port, no path. */
    private static String origin(String entry) {
        if (entry.equals("*")) {
            throw new IllegalArgumentException("'*' is not allowed: answers to allowed origins carry credentials,"
                    + " so list the origins one by one");
        }
        URI uri;
        try {
            uri = new URI(entry.endsWith("/") ? entry.substring(0, entry.length() - 1) : entry);
        } catch (URISyntaxException e) {
            throw notAnOrigin(entry);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null
                || uri.getRawUserInfo() != null || !uri.getRawPath().isEmpty()
                || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw notAnOrigin(entry);
        }
        int port = uri.getPort();
        boolean defaultPort = port == -1 || (scheme.equals("http") && port == 80)
                || (scheme.equals("https") && port == 443);
        return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + (defaultPort ? "" : ":" + port);
    }

    private static IllegalArgumentException notAnOrigin(String entry) {
        return new IllegalArgumentException("'" + entry + "' is not an origin (expected scheme://host[:port],"
                + " http or https, nothing after the port)");
    }
}
