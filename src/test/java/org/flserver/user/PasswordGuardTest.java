package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which key a client address is counted under; how the sign-up limits answer. */
class PasswordGuardTest {

    /** A guard as CDI would make it, with these sign-up limits (cheap hashing for the dummy hash). */
    private static PasswordGuard guard(int perAddress, int total) {
        PasswordGuard g = new PasswordGuard();
        g.userMaxFailures = 5;
        g.userLockoutSeconds = 30;
        g.userMaxLockoutSeconds = 300;
        g.addressMaxFailures = 20;
        g.addressLockoutSeconds = 60;
        g.addressMaxLockoutSeconds = 3600;
        g.failureWindowSeconds = 3600;
        g.knownAddressSeconds = 3600;
        g.maxEntries = 1000;
        g.pbkdf2Iterations = 1000;
        g.signUpsPerAddress = perAddress;
        g.signUpsTotal = total;
        g.signUpWindowSeconds = 3600;
        g.trustedProxies = Optional.empty();
        g.start();
        return g;
    }

    @Test
    void signUpsPastAnAddressLimitOrTheServersAre429WithWhichAndWhen() {
        PasswordGuard g = guard(2, 3);
        g.countSignUp("192.0.2.1");
        g.countSignUp("192.0.2.1");
        RetryLater own = assertThrows(RetryLater.class, () -> g.countSignUp("192.0.2.1"));
        assertEquals(429, own.status());
        // the window started with the first sign-up, a moment ago
        assertTrue(own.seconds() > 3500 && own.seconds() <= 3600, "Retry-After " + own.seconds());
        assertEquals("{\"detail\":\"Too many sign-ups from this address: at most 2 in 3600 seconds. Try again in "
                + own.seconds() + " seconds.\"}", own.body().toString());
        g.countSignUp("192.0.2.2"); // the third of all addresses together
        RetryLater all = assertThrows(RetryLater.class, () -> g.countSignUp("192.0.2.3"));
        assertEquals(429, all.status());
        assertTrue(all.seconds() > 3500 && all.seconds() <= 3600, "Retry-After " + all.seconds());
        assertEquals("{\"detail\":\"Too many sign-ups on this server: at most 3 in 3600 seconds. Try again in "
                + all.seconds() + " seconds.\"}", all.body().toString());
    }

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
