package org.flserver.notification;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Which addresses the server may send notifications to. Anyone can sign up with any
 * {@code message_endpoint}, and the server then POSTs to it from inside its own network, so
 * without this check the endpoint would make the server reach what only it can reach: a cloud
 * metadata service, link-local devices, internal hosts.
 *
 * <p>Two layers. Some addresses are refused whatever the configuration says, because no
 * notification receiver lives there and some are the classic targets: unspecified ({@code
 * 0.0.0.0/8}, {@code ::}; connecting there reaches this host), link-local ({@code
 * 169.254.0.0/16}, {@code fe80::/10}, where the cloud metadata services answer), the other cloud
 * metadata addresses ({@code fd00:ec2::254}, {@code 100.100.100.200}), multicast and the reserved
 * block with the broadcast address ({@code 240.0.0.0/4}). Everything else must lie in one of the
 * configured networks ({@code fl.notification.allowed-networks}), by default every address
 * ({@link #DEFAULT}): participants of a demonstration run on the same host, those of a project
 * in its private networks, and the integration tests listen on loopback. An internet-facing
 * deployment narrows the list to where its participants are.
 *
 * <p>Addresses are compared in the form the connection would really take: an IPv4-mapped IPv6
 * address ({@code ::ffff:169.254.169.254}) is its IPv4 address. An IPv6 address that carries an
 * IPv4 address for a translator (NAT64 {@code 64:ff9b::/96}, and the deprecated IPv4-compatible
 * {@code ::/96}) must pass as itself and as the IPv4 address it leads to.
 */
public final class AllowedNetworks {

    /** The setting's name (MicroProfile Config). */
    public static final String PROPERTY = "fl.notification.allowed-networks";

    /** Every unicast address, apart from the ones always refused. */
    public static final String DEFAULT = "0.0.0.0/0,::/0";

    /** Why an address is never allowed: the first network that contains it names the reason. */
    private record Rule(Cidr network, String reason) {
    }

    private static final List<Rule> ALWAYS_REFUSED = List.of(
            rule("0.0.0.0/8", "unspecified address"),
            rule("169.254.0.0/16", "link-local address"),
            rule("100.100.100.200", "cloud metadata address"), // Alibaba Cloud's; the others use 169.254.169.254
            rule("224.0.0.0/4", "multicast address"),
            rule("240.0.0.0/4", "reserved or broadcast address"),
            rule("::/128", "unspecified address"),
            rule("fd00:ec2::254", "cloud metadata address"), // AWS's over IPv6, inside the private fc00::/7
            rule("fe80::/10", "link-local address"),
            rule("ff00::/8", "multicast address"));

    /** IPv6 networks whose last 32 bits are an IPv4 address that a translator connects to. */
    private static final List<Cidr> CARRY_IPV4 = List.of(Cidr.parse("64:ff9b::/96"), Cidr.parse("::/96"));

    private static final Cidr LOOPBACK_V6 = Cidr.parse("::1");

    private final List<Cidr> allowed;

    private AllowedNetworks(List<Cidr> allowed) {
        this.allowed = List.copyOf(allowed);
    }

    /**
     * The networks of the setting: CIDR networks separated by commas, IPv4 and IPv6, spaces
     * allowed ({@code 127.0.0.0/8, ::1, 10.0.0.0/8}).
     *
     * @throws IllegalArgumentException naming the first entry that is wrong
     */
    public static AllowedNetworks parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("no networks given");
        }
        List<Cidr> out = new ArrayList<>();
        for (String entry : text.split(",", -1)) {
            if (entry.isBlank()) {
                throw new IllegalArgumentException("an empty entry in '" + text + "'");
            }
            out.add(Cidr.parse(entry));
        }
        return new AllowedNetworks(out);
    }

    /** Why a notification may not go to an address: the address as text and the reason. */
    public record Refusal(String address, String reason) {
    }

    /** Why {@code address} is refused, or empty if notifications may go there. */
    public Optional<Refusal> refusal(InetAddress address) {
        return refusal(address.getAddress());
    }

    /** The same for a raw 4- or 16-byte address. */
    Optional<Refusal> refusal(byte[] raw) {
        byte[] address = normalized(raw);
        String text = text(address);
        Optional<String> reason = reason(address);
        if (reason.isEmpty() && address.length == 16 && !LOOPBACK_V6.contains(address)
                && CARRY_IPV4.stream().anyMatch(c -> c.contains(address))) {
            byte[] v4 = Arrays.copyOfRange(address, 12, 16);
            reason = reason(v4).map(r -> r + " " + text(v4) + " inside an IPv6 address");
        }
        return reason.map(r -> new Refusal(text, r));
    }

    private Optional<String> reason(byte[] address) {
        for (Rule rule : ALWAYS_REFUSED) {
            if (rule.network().contains(address)) {
                return Optional.of(rule.reason());
            }
        }
        return allowed.stream().anyMatch(c -> c.contains(address))
                ? Optional.empty()
                : Optional.of("not in the allowed networks");
    }

    /** An IPv4-mapped IPv6 address as its IPv4 address; anything else unchanged. */
    static byte[] normalized(byte[] address) {
        return address.length == 16 && isMapped(address) ? Arrays.copyOfRange(address, 12, 16) : address;
    }

    /** Whether 16 bytes are {@code ::ffff:a.b.c.d}. */
    static boolean isMapped(byte[] address) {
        for (int i = 0; i < 10; i++) {
            if (address[i] != 0) {
                return false;
            }
        }
        return address[10] == (byte) 0xff && address[11] == (byte) 0xff;
    }

    /** Dotted quad, or IPv6 in the RFC 5952 short form (the longest run of zero groups as {@code ::}). */
    static String text(byte[] address) {
        if (address.length == 4) {
            return (address[0] & 0xff) + "." + (address[1] & 0xff) + "." + (address[2] & 0xff) + "." + (address[3] & 0xff);
        }
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((address[2 * i] & 0xff) << 8) | (address[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLength = 1; // a single zero group is written as 0, not ::
        for (int i = 0; i < 8; i++) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = Math.max(i, j);
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append("::");
                i += bestLength - 1;
                continue;
            }
            if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
                out.append(':');
            }
            out.append(Integer.toHexString(groups[i]));
        }
        return out.toString();
    }

    private static Rule rule(String network, String reason) {
        return new Rule(Cidr.parse(network), reason);
    }

    @Override
    public String toString() {
        return allowed.toString();
    }
}
