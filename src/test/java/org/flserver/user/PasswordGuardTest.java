package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Which key a client address is counted under. */
class PasswordGuardTest {

    @Test
    void ipv4AddressesCountAsThey() {
        assertEquals("192.0.2.7", PasswordGuard.addressKey("192.0.2.7"));
    }

    @Test
    void ipv6AddressesCountByTheirSlash64() {
        assertEquals("2001:db8:1:2:0:0:0:0/64", PasswordGuard.addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        assertEquals("2001:db8:1:2:0:0:0:0/64", PasswordGuard.addressKey("[2001:db8:1:2::1%eth0]"));
        assertEquals("0:0:0:0:0:0:0:0/64", PasswordGuard.addressKey("0:0:0:0:0:0:0:1"));
    }

    @Test
    void ipv4MappedAddressesCountAsIpv4() {
        assertEquals("192.0.2.7", PasswordGuard.addressKey("::ffff:192.0.2.7"));
    }

    @Test
    void anythingElseIsKeptAsItIs() {
        assertEquals("not:an-address", PasswordGuard.addressKey("not:an-address"));
        assertEquals("", PasswordGuard.addressKey(""));
    }
}
