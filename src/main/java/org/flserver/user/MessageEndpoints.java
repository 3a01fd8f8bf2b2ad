package org.flserver.user;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * The rule for a user's {@code message_endpoint}: an absolute http(s) URL with a host. The reference
 * server stores any string and later fails to notify; we refuse it when the user is created.
 */
public final class MessageEndpoints {

    private MessageEndpoints() {
    }

    public static boolean isValid(String endpoint) {
        try {
            URI uri = new URI(endpoint);
            String scheme = uri.getScheme();
            return uri.isAbsolute() && uri.getHost() != null
                    && ("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme));
        } catch (URISyntaxException e) {
            return false;
        }
    }
}
