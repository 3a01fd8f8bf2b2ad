package org.flserver.notification;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads IP address literals as bytes, without ever asking the name service: the JDK's
 * {@code InetAddress.getByName} falls back to a DNS look-up for anything it does not take for a
 * literal, which a check of a host name must not do. Three readings are needed:
 *
 * <ul>
 *   <li>the strict forms, for configuration and for URL hosts: four decimal numbers without
 *       leading zeros ({@code 10.0.0.1}), and any RFC 4291 text form of IPv6 ({@code ::1},
 *       {@code ::ffff:169.254.169.254}), without a zone;
 *   <li>every number reading of an IPv4 host that some HTTP stack would connect to: C's
 *       {@code inet_aton} (one to four parts, each decimal, octal with a leading 0 or hex with
 *       0x: {@code 2852039166}, {@code 0251.0376.0251.0376}, {@code 0xa9.254.43518}) and the
 *       JDK's reading of the same parts as decimal ({@code 010.0.0.1} is 8.0.0.1 for one and
 *       10.0.0.1 for the other). A host with such a reading but no strict form is ambiguous.
 * </ul>
 */
final class IpLiterals {

    private IpLiterals() {
    }

    /** The four bytes of a strict dotted-quad IPv4 literal, or null. */
    static byte[] strictIpv4(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || !allDigits(p, 10) || (p.length() > 1 && p.charAt(0) == '0')) {
                return null;
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                return null;
            }
            out[i] = (byte) v;
        }
        return out;
    }

    /**
     * Every IPv4 address {@code text} can be read as by a C library ({@code inet_aton}) or the
     * JDK (the same parts, all decimal), in that order and without repeats; empty if it is no
     * number form at all (then it is a host name). One trailing dot is ignored, as resolvers do.
     */
    static List<byte[]> ipv4Readings(String text) {
        String t = text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
        String[] parts = t.split("\\.", -1);
        if (parts.length < 1 || parts.length > 4) {
            return List.of();
        }
        Set<Long> readings = new LinkedHashSet<>();
        Long c = combine(parts, true);
        Long jdk = combine(parts, false);
        if (c != null) {
            readings.add(c);
        }
        if (jdk != null) {
            readings.add(jdk);
        }
        List<byte[]> out = new ArrayList<>();
        for (long v : readings) {
            out.add(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v});
        }
        return out;
    }

    /**
     * The 32-bit value of 1–4 parts: the last part fills the bytes the earlier ones leave, as in
     * {@code inet_aton}. With {@code cRadix} a part may be octal (leading 0) or hex (0x); without
     * it every part must be decimal. Null when a part is no number or too large for its place.
     */
    private static Long combine(String[] parts, boolean cRadix) {
        long value = 0;
        for (int i = 0; i < parts.length; i++) {
            Long part = cRadix ? cNumber(parts[i]) : decimal(parts[i]);
            if (part == null) {
                return null;
            }
            int bytesLeft = 4 - i;
            boolean last = i == parts.length - 1;
            long limit = last ? (1L << (8 * bytesLeft)) - 1 : 255;
            if (part > limit) {
                return null;
            }
            value = last ? (value << (8 * bytesLeft)) | part : (value << 8) | part;
        }
        return value;
    }

    private static Long cNumber(String p) {
        if (p.length() > 2 && (p.startsWith("0x") || p.startsWith("0X"))) {
            return parse(p.substring(2), 16);
        }
        if (p.length() > 1 && p.charAt(0) == '0') {
            return parse(p.substring(1), 8);
        }
        return parse(p, 10);
    }

    private static Long decimal(String p) {
        return parse(p, 10);
    }

    private static Long parse(String digits, int radix) {
        // 12 digits bound the value far above 2^32 in every radix, and keep parseLong from overflowing.
        if (digits.isEmpty() || digits.length() > 12 || !allDigits(digits, radix)) {
            return null;
        }
        return Long.parseLong(digits, radix);
    }

    private static boolean allDigits(String s, int radix) {
        for (int i = 0; i < s.length(); i++) {
            // ASCII only: Character.digit also reads other scripts' digits, which no resolver does.
            if (s.charAt(i) >= 128 || Character.digit(s.charAt(i), radix) < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The 16 bytes of an IPv6 literal in any RFC 4291 text form (groups of 1–4 hex digits, at
     * most one {@code ::}, optionally ending in a strict dotted quad), or null. No brackets, no
     * zone: a zone ({@code %eth0}) only means something for link-local addresses.
     */
    static byte[] ipv6(String text) {
        if (text.isEmpty() || text.length() > 45 || text.indexOf(':') < 0) {
            return null;
        }
        int doubleColon = text.indexOf("::");
        if (doubleColon >= 0 && text.indexOf("::", doubleColon + 1) >= 0) {
            return null;
        }
        List<Integer> head = groups(doubleColon < 0 ? text : text.substring(0, doubleColon));
        List<Integer> tail = doubleColon < 0 ? List.of() : groups(text.substring(doubleColon + 2));
        if (head == null || tail == null) {
            return null;
        }
        int count = head.size() + tail.size();
        if (doubleColon < 0 ? count != 8 : count > 7) {
            return null;
        }
        byte[] out = new byte[16];
        for (int i = 0; i < head.size(); i++) {
            out[2 * i] = (byte) (head.get(i) >>> 8);
            out[2 * i + 1] = (byte) (int) head.get(i);
        }
        for (int i = 0; i < tail.size(); i++) {
            int at = 8 - tail.size() + i;
            out[2 * at] = (byte) (tail.get(i) >>> 8);
            out[2 * at + 1] = (byte) (int) tail.get(i);
        }
        return out;
    }

    /**
     * The 16-bit groups of one side of a {@code ::} (empty text: none); a dotted quad may only
     * be the very last thing, and counts as two groups. Null if anything is malformed.
     */
    private static List<Integer> groups(String text) {
        List<Integer> out = new ArrayList<>();
        if (text.isEmpty()) {
            return out;
        }
        String[] parts = text.split(":", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (i == parts.length - 1 && p.indexOf('.') >= 0) {
                byte[] v4 = strictIpv4(p);
                if (v4 == null) {
                    return null;
                }
                out.add(((v4[0] & 0xff) << 8) | (v4[1] & 0xff));
                out.add(((v4[2] & 0xff) << 8) | (v4[3] & 0xff));
            } else if (p.isEmpty() || p.length() > 4 || !allDigits(p, 16)) {
                return null;
            } else {
                out.add(Integer.parseInt(p, 16));
            }
        }
        return out;
    }
}
