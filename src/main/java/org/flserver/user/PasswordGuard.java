package org.flserver.user;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The server's one {@link PasswordChecks} (throttling, single flight, bounded concurrency, dummy
 * hash), configured through MicroProfile Config, shared by the API's Basic authentication and the
 * admin pages' form login so that both count the same failures. It also decides which client
 * address a request counts for.
 */
@ApplicationScoped
public class PasswordGuard {

    private static final Logger LOG = Logger.getLogger(PasswordGuard.class.getName());

    /** How long a check waits for a free verification slot before the client is told to come back. */
    private static final long VERIFICATION_WAIT_MILLIS = 5_000;

    @Inject
    @ConfigProperty(name = "fl.auth.max-failures", defaultValue = "5")
    int userMaxFailures;

    @Inject
    @ConfigProperty(name = "fl.auth.lockout-seconds", defaultValue = "30")
    long userLockoutSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.max-lockout-seconds", defaultValue = "300")
    long userMaxLockoutSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.address-max-failures", defaultValue = "20")
    int addressMaxFailures;

    @Inject
    @ConfigProperty(name = "fl.auth.address-lockout-seconds", defaultValue = "60")
    long addressLockoutSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.address-max-lockout-seconds", defaultValue = "3600")
    long addressMaxLockoutSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.failure-window-seconds", defaultValue = "3600")
    long failureWindowSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.known-address-seconds", defaultValue = "2592000")
    long knownAddressSeconds;

    @Inject
    @ConfigProperty(name = "fl.auth.throttle-max-entries", defaultValue = "50000")
    int maxEntries;

    /** 0: one per processor. */
    @Inject
    @ConfigProperty(name = "fl.auth.max-concurrent-verifications", defaultValue = "0")
    int maxConcurrentVerifications;

    @Inject
    @ConfigProperty(name = "fl.auth.pbkdf2-iterations", defaultValue = "600000")
    int pbkdf2Iterations;

    /** Sign-ups one client address may make per window; 0: no limit. */
    @Inject
    @ConfigProperty(name = "fl.signup.max-per-address", defaultValue = "20")
    int signUpsPerAddress;

    /** Sign-ups from all addresses together per window; 0: no limit. */
    @Inject
    @ConfigProperty(name = "fl.signup.max-total", defaultValue = "500")
    int signUpsTotal;

    @Inject
    @ConfigProperty(name = "fl.signup.window-seconds", defaultValue = "3600")
    long signUpWindowSeconds;

    /** Addresses of reverse proxies whose X-Forwarded-For is believed; empty: none. */
    @Inject
    @ConfigProperty(name = "fl.auth.trusted-proxies")
    Optional<String> trustedProxies;

    private PasswordChecks checks;
    private SignUpLimit signUps;
    private Set<String> proxies;

    @PostConstruct
    void start() {
        LoginThrottle throttle = new LoginThrottle(new LoginThrottle.Settings(
                Math.max(1, userMaxFailures), userLockoutSeconds * 1000, userMaxLockoutSeconds * 1000,
                Math.max(1, addressMaxFailures), addressLockoutSeconds * 1000, addressMaxLockoutSeconds * 1000,
                failureWindowSeconds * 1000, knownAddressSeconds * 1000, Math.max(100, maxEntries)),
                () -> System.nanoTime() / 1_000_000);
        int concurrent = maxConcurrentVerifications > 0 ? maxConcurrentVerifications
                : Runtime.getRuntime().availableProcessors();
        // a random password nobody knows, hashed like new passwords are
        String dummy = PasswordHasher.hash(PasswordHasher.newToken(), pbkdf2Iterations);
        checks = new PasswordChecks(throttle, PasswordHasher::verify, dummy, concurrent, VERIFICATION_WAIT_MILLIS);
        signUps = new SignUpLimit(new SignUpLimit.Settings(Math.max(0, signUpsPerAddress), Math.max(0, signUpsTotal),
                Math.max(1, signUpWindowSeconds) * 1000, Math.max(100, maxEntries)), () -> System.nanoTime() / 1_000_000);
        proxies = trustedProxies.map(list -> Arrays.stream(list.split(",")).map(String::trim)
                .filter(s -> !s.isEmpty()).collect(Collectors.toSet())).orElse(Set.of());
    }

    /**
     * The PBKDF2 hash of a new password, computed in one of the verification slots; 503 with
     * {@code Retry-After} when none freed up in time (a flood of sign-ups must not starve logins or
     * the rest of the server of CPU).
     */
    public String hashNewPassword(String password) {
        String hash = checks.inVerificationSlot(() -> PasswordHasher.hash(password, pbkdf2Iterations));
        if (hash == null) {
            throw RetryLater.busy(1);
        }
        return hash;
    }

    /**
     * Counts a sign-up from the client address (see {@link #clientAddress}); 429 with
     * {@code Retry-After} when the address already made {@code fl.signup.max-per-address} in its
     * window ({@code fl.signup.window-seconds}), or all addresses together
     * {@code fl.signup.max-total} in theirs. The first refusal of the latter in a window is logged:
     * the operator should know that sign-ups are being refused to everyone.
     */
    public void countSignUp(String address) {
        SignUpLimit.Verdict verdict = signUps.acquire(address);
        if (verdict.seconds() == 0) {
            return;
        }
        long window = Math.max(1, signUpWindowSeconds);
        if (!verdict.total()) {
            throw RetryLater.tooManySignUps(signUpsPerAddress, window, verdict.seconds());
        }
        if (verdict.first()) {
            LOG.warning("sign-ups refused for everyone for the next " + verdict.seconds() + " s: " + signUpsTotal
                    + " were made in this window of " + window + " s (fl.signup.max-total)");
        }
        throw RetryLater.tooManySignUpsOnServer(signUpsTotal, window, verdict.seconds());
    }

    public PasswordChecks.Result check(String username, String password, String address,
                                       Function<String, PasswordChecks.Stored> accounts) {
        return checks.check(username, password, address, accounts);
    }

    /**
     * The address a request's failures count for: the peer's address, or, when the peer is a trusted
     * proxy, the last address it put into {@code X-Forwarded-For} (the one it saw itself; earlier
     * entries come from the client and prove nothing).
     */
    public String clientAddress(HttpServletRequest request) {
        String peer = request == null ? null : request.getRemoteAddr();
        if (peer == null) {
            return "";
        }
        if (proxies.contains(peer)) {
            String forwarded = request.getHeader("X-Forwarded-For");
            if (forwarded != null && !forwarded.isBlank()) {
                String[] hops = forwarded.split(",");
                peer = hops[hops.length - 1].trim();
            }
        }
        return addressKey(peer);
    }

    /**
     * The key an address is counted under: IPv4 addresses as they are, IPv6 addresses by their /64
     * network, since one IPv6 client usually owns a whole /64 and could otherwise take a fresh
     * address for every guess.
     */
    static String addressKey(String address) {
        if (address.indexOf(':') < 0) {
            return address;
        }
        String literal = address.replace("[", "").replace("]", "");
        int zone = literal.indexOf('%');
        if (zone >= 0) {
            literal = literal.substring(0, zone);
        }
        if (!literal.matches("[0-9A-Fa-f:.]+")) {
            return address;
        }
        try {
            // a literal: no name look-up happens
            byte[] bytes = InetAddress.getByName(literal).getAddress();
            if (bytes.length == 4) {
                return InetAddress.getByAddress(bytes).getHostAddress();
            }
            Arrays.fill(bytes, 8, 16, (byte) 0);
            return InetAddress.getByAddress(bytes).getHostAddress() + "/64";
        } catch (UnknownHostException e) {
            return address;
        }
    }
}
