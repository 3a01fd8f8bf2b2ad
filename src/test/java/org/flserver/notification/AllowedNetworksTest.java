package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.flserver.notification.AllowedNetworks.Refusal;
import org.junit.jupiter.api.Test;

/**
 * The address rules for notifications: literal parsing without any look-up, CIDR parsing and
 * matching, and which addresses are refused under the default and under a narrowed setting.
 */
class AllowedNetworksTest {

    private static final AllowedNetworks DEFAULT = AllowedNetworks.parse(AllowedNetworks.DEFAULT);

    private static byte[] v4(int a, int b, int c, int d) {
        return new byte[] {(byte) a, (byte) b, (byte) c, (byte) d};
    }

    private static byte[] v6(String text) {
        byte[] bytes = IpLiterals.ipv6(text);
        assertTrue(bytes != null, text);
        return bytes;
    }

    private static Optional<String> reason(AllowedNetworks networks, byte[] address) {
        return networks.refusal(address).map(Refusal::reason);
    }

    @Test
    void strictIpv4IsFourDecimalNumbersWithoutLeadingZeros() {
        assertArrayEquals(v4(169, 254, 169, 254), IpLiterals.strictIpv4("169.254.169.254"));
        assertArrayEquals(v4(0, 0, 0, 0), IpLiterals.strictIpv4("0.0.0.0"));
        for (String bad : List.of("", "1.2.3", "1.2.3.4.5", "010.0.0.1", "256.0.0.1", "1..2.3", "1.2.3.4.",
                "0x7f.0.0.1", "+1.2.3.4", "1.2.3.٤", "a.b.c.d")) {
            assertNull(IpLiterals.strictIpv4(bad), bad);
        }
    }

    @Test
    void everyNumberReadingOfAnIpv4HostIsFound() {
        // inet_aton's forms: one to four parts, decimal, octal (leading 0) or hex (0x)
        assertReadings("2852039166", "169.254.169.254");
        assertReadings("0xa9fea9fe", "169.254.169.254");
        assertReadings("0251.0376.0251.0376", "169.254.169.254", "251.376.251.376 is no address");
        assertReadings("0xa9.0xfe.0xa9.0xfe", "169.254.169.254");
        assertReadings("169.254.43518", "169.254.169.254");
        assertReadings("169.16689662", "169.254.169.254");
        assertReadings("127.1", "127.0.0.1");
        assertReadings("169.254.169.254.", "169.254.169.254"); // the resolvers' trailing dot
        // the JDK reads every part as decimal: both readings count
        assertReadings("010.0.0.1", "8.0.0.1", "10.0.0.1");
        assertReadings("0177.0.0.1", "127.0.0.1", "177.0.0.1");
        // no number form: a host name
        for (String name : List.of("example.org", "client-host", "0x", "1.2.3.4.5", "4294967296", "256.1.1.1.1",
                "99999999999999999999", "08.0.0.1x", "٣")) {
            assertTrue(IpLiterals.ipv4Readings(name).isEmpty(), name);
        }
    }

    private static void assertReadings(String host, String... expected) {
        List<String> readings = IpLiterals.ipv4Readings(host).stream().map(AllowedNetworks::text).toList();
        List<String> wanted = java.util.Arrays.stream(expected).filter(e -> !e.contains(" ")).toList();
        assertEquals(wanted, readings, host);
    }

    @Test
    void ipv6LiteralsInEveryTextForm() {
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, v6("::1"));
        assertArrayEquals(v6("0:0:0:0:0:0:0:1"), v6("::1"));
        assertArrayEquals(v6("::ffff:a9fe:a9fe"), v6("::ffff:169.254.169.254"));
        assertArrayEquals(v6("fd00:ec2:0:0:0:0:0:254"), v6("fd00:ec2::254"));
        assertArrayEquals(v6("FE80::1"), v6("fe80::1"));
        assertEquals("::", AllowedNetworks.text(v6("::")));
        assertEquals("fd00:ec2::254", AllowedNetworks.text(v6("fd00:ec2:0:0:0:0:0:254")));
        assertEquals("2001:db8:0:1:1:1:1:1", AllowedNetworks.text(v6("2001:db8:0:1:1:1:1:1")));
        assertEquals("1::", AllowedNetworks.text(v6("1:0:0:0:0:0:0:0")));
        for (String bad : List.of("", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::",
                "::g", "fe80::1%eth0", "::ffff:010.0.0.1", "::1.2.3.4:5", "1.2.3.4", "[::1]")) {
            assertNull(IpLiterals.ipv6(bad), bad);
        }
    }

    @Test
    void cidrParsingAndMatching() {
        Cidr ten = Cidr.parse(" 10.0.0.0/8 ");
        assertTrue(ten.contains(v4(10, 255, 0, 1)));
        assertFalse(ten.contains(v4(11, 0, 0, 0)));
        assertFalse(ten.contains(v6("::a00:1")), "never across families");
        Cidr twelve = Cidr.parse("172.16.0.0/12");
        assertTrue(twelve.contains(v4(172, 31, 255, 255)));
        assertFalse(twelve.contains(v4(172, 32, 0, 0)));
        assertTrue(Cidr.parse("0.0.0.0/0").contains(v4(8, 8, 8, 8)));
        assertTrue(Cidr.parse("fc00::/7").contains(v6("fdff::1")));
        assertFalse(Cidr.parse("fc00::/7").contains(v6("fe00::1")));
        assertTrue(Cidr.parse("::1").contains(v6("::1")));
        assertFalse(Cidr.parse("::1").contains(v6("::2")));
        assertTrue(Cidr.parse("192.0.2.7").contains(v4(192, 0, 2, 7)));
        // an IPv4-mapped network is the IPv4 network
        assertEquals(Cidr.parse("10.0.0.0/8"), Cidr.parse("::ffff:10.0.0.0/104"));
        for (String bad : List.of("", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                "10.0.0.1/8", "fe80::1/10", "example.org", "localhost/8", "10.0.0.0/ 8", "[::1]/128")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(bad), bad);
            assertTrue(e.getMessage().contains("'"), e.getMessage());
        }
        assertEquals("'10.0.0.1/8' has bits set after its prefix length; the network is 10.0.0.0/8",
                assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.0.0.1/8")).getMessage());
    }

    @Test
    void theSettingIsAListOfNetworks() {
        AllowedNetworks n = AllowedNetworks.parse("127.0.0.0/8, ::1,192.168.0.0/16");
        assertEquals("[127.0.0.0/8, ::1/128, 192.168.0.0/16]", n.toString());
        for (String bad : List.of("", " ", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8;::1", "10.0.0.0/8,,::1")) {
            assertThrows(IllegalArgumentException.class, () -> AllowedNetworks.parse(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> AllowedNetworks.parse(null));
    }

    @Test
    void theDefaultAllowsLoopbackPrivateAndPublicUnicast() {
        for (byte[] ok : List.of(v4(127, 0, 0, 1), v4(127, 255, 255, 254), v4(10, 1, 2, 3), v4(172, 16, 0, 1),
                v4(192, 168, 1, 10), v4(8, 8, 8, 8), v4(100, 64, 0, 1), v4(100, 100, 100, 201),
                v6("::1"), v6("fc00::1"), v6("fd00:ec2::253"), v6("fd12:3456::1"), v6("2001:db8::1"),
                v6("::ffff:127.0.0.1"), v6("::ffff:10.0.0.1"), v6("64:ff9b::808:808"))) {
            assertEquals(Optional.empty(), DEFAULT.refusal(ok), AllowedNetworks.text(ok));
        }
    }

    @Test
    void linkLocalMetadataMulticastBroadcastAndUnspecifiedAreAlwaysRefused() {
        AllowedNetworks everything = DEFAULT;
        AllowedNetworks explicit = AllowedNetworks.parse("169.254.0.0/16,fe80::/10,fd00::/8,0.0.0.0/0,::/0");
        for (AllowedNetworks n : List.of(everything, explicit)) {
            assertEquals(Optional.of(new Refusal("169.254.169.254", "link-local address")),
                    n.refusal(v4(169, 254, 169, 254)));
            assertEquals(Optional.of("link-local address"), reason(n, v4(169, 254, 0, 1)));
            assertEquals(Optional.of("link-local address"), reason(n, v6("fe80::1")));
            assertEquals(Optional.of("link-local address"), reason(n, v6("febf:ffff::1")));
            assertEquals(Optional.of(new Refusal("fd00:ec2::254", "cloud metadata address")),
                    n.refusal(v6("fd00:ec2::254")));
            assertEquals(Optional.of("cloud metadata address"), reason(n, v4(100, 100, 100, 200)));
            assertEquals(Optional.of("unspecified address"), reason(n, v4(0, 0, 0, 0)));
            assertEquals(Optional.of("unspecified address"), reason(n, v4(0, 1, 2, 3)));
            assertEquals(Optional.of("unspecified address"), reason(n, v6("::")));
            assertEquals(Optional.of("multicast address"), reason(n, v4(224, 0, 0, 1)));
            assertEquals(Optional.of("multicast address"), reason(n, v4(239, 255, 255, 250)));
            assertEquals(Optional.of("multicast address"), reason(n, v6("ff02::1")));
            assertEquals(Optional.of("reserved or broadcast address"), reason(n, v4(255, 255, 255, 255)));
            assertEquals(Optional.of("reserved or broadcast address"), reason(n, v4(240, 0, 0, 1)));
            // IPv4-mapped IPv6 is the IPv4 address, named as such
            assertEquals(Optional.of(new Refusal("169.254.169.254", "link-local address")),
                    n.refusal(v6("::ffff:169.254.169.254")));
            assertEquals(Optional.of("link-local address"), reason(n, v6("::ffff:a9fe:a9fe")));
            assertEquals(Optional.of("unspecified address"), reason(n, v6("::ffff:0.0.0.0")));
            // IPv6 forms that a translator turns into the IPv4 address
            assertEquals(Optional.of(new Refusal("64:ff9b::a9fe:a9fe",
                    "link-local address 169.254.169.254 inside an IPv6 address")), n.refusal(v6("64:ff9b::a9fe:a9fe")));
            assertEquals(Optional.of("link-local address 169.254.169.254 inside an IPv6 address"),
                    reason(n, v6("::169.254.169.254")));
        }
    }

    @Test
    void aNarrowedSettingRefusesEverythingElse() {
        AllowedNetworks n = AllowedNetworks.parse("203.0.113.0/24, 2001:db8:1::/48");
        assertEquals(Optional.empty(), n.refusal(v4(203, 0, 113, 9)));
        assertEquals(Optional.empty(), n.refusal(v6("2001:db8:1:2::9")));
        assertEquals(Optional.empty(), n.refusal(v6("::ffff:203.0.113.9")));
        for (byte[] refused : List.of(v4(127, 0, 0, 1), v4(10, 0, 0, 1), v4(192, 168, 0, 1), v4(8, 8, 8, 8),
                v6("::1"), v6("fc00::1"), v6("2001:db8:2::1"), v6("::ffff:127.0.0.1"))) {
            assertEquals(Optional.of("not in the allowed networks"), reason(n, refused), AllowedNetworks.text(refused));
        }
        // an IPv6 address allowed as itself still needs its IPv4 destination allowed
        AllowedNetworks anyV6 = AllowedNetworks.parse("::/0, 203.0.113.0/24");
        assertEquals(Optional.of("not in the allowed networks 10.0.0.1 inside an IPv6 address"),
                reason(anyV6, v6("64:ff9b::a00:1")));
        assertEquals(Optional.empty(), anyV6.refusal(v6("64:ff9b::cb00:7109")));
        assertEquals(Optional.empty(), anyV6.refusal(v6("::1")), "::1 is loopback, not an IPv4-compatible address");
    }
}
