package org.flserver.notification;

import java.util.Arrays;

/**
 * One network in CIDR notation, IPv4 or IPv6: {@code 10.0.0.0/8}, {@code fc00::/7}, or a single
 * address without a prefix length. An IPv4-mapped IPv6 network ({@code ::ffff:10.0.0.0/104}) is
 * kept as the IPv4 network it denotes, since addresses are compared in that form too (see
 * {@link AllowedNetworks}).
 */
record Cidr(byte[] network, int prefix) {

    Cidr {
        network = network.clone();
    }

    /**
     * Parses {@code text}; only literals, never a name.
     *
     * @throws IllegalArgumentException naming what is wrong, e.g. host bits set
     */
    static Cidr parse(String text) {
        String t = text.strip();
        int slash = t.indexOf('/');
        String address = slash < 0 ? t : t.substring(0, slash);
        byte[] bytes = IpLiterals.strictIpv4(address);
        if (bytes == null) {
            bytes = IpLiterals.ipv6(address);
        }
        if (bytes == null) {
            throw new IllegalArgumentException("'" + t + "' is not an IPv4 or IPv6 network (e.g. 10.0.0.0/8, fc00::/7)");
        }
        int bits = bytes.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String length = t.substring(slash + 1);
            if (length.isEmpty() || length.length() > 3 || !length.chars().allMatch(c -> c >= '0' && c <= '9')
                    || Integer.parseInt(length) > bits) {
                throw new IllegalArgumentException("'" + t + "': the prefix length must be 0 to " + bits);
            }
            prefix = Integer.parseInt(length);
        }
        byte[] masked = mask(bytes, prefix);
        if (!Arrays.equals(masked, bytes)) {
            throw new IllegalArgumentException("'" + t + "' has bits set after its prefix length; the network is "
                    + AllowedNetworks.text(masked) + "/" + prefix);
        }
        if (bytes.length == 16 && prefix >= 96 && AllowedNetworks.isMapped(bytes)) {
            return new Cidr(Arrays.copyOfRange(bytes, 12, 16), prefix - 96);
        }
        return new Cidr(bytes, prefix);
    }

    /** Whether {@code address} (4 or 16 bytes) lies in this network; never across families. */
    boolean contains(byte[] address) {
        return address.length == network.length && Arrays.equals(mask(address, prefix), network);
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] out = address.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - 8 * i));
            out[i] &= (byte) (0xff << (8 - keep));
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(network) + prefix;
    }

    @Override
    public String toString() {
        return AllowedNetworks.text(network) + "/" + prefix;
    }
}
