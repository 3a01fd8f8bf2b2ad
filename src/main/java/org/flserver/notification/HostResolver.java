package org.flserver.notification;

import jakarta.enterprise.context.ApplicationScoped;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Resolves the host name of a notification endpoint when a notification is delivered (IP
 * literals never get here). The JDK's name service, which follows the host's resolver
 * configuration and caches answers for {@code networkaddress.cache.ttl}. A CDI bean so that a
 * deployment can put another name service in its place, as the in-container tests do to make
 * a name resolve to an address that must be refused.
 */
@ApplicationScoped
public class HostResolver {

    /** Every address of {@code host}, in the name service's order. */
    public List<InetAddress> resolve(String host) throws UnknownHostException {
        return List.of(InetAddress.getAllByName(host));
    }
}
