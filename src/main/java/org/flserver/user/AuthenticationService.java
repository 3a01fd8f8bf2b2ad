package org.flserver.user;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.flserver.platform.ApiException;

/**
 * Turns an {@code Authorization} header into a user, exactly as the reference server's
 * authenticators do (api.md §1.1): {@code Token <key>}; {@code Basic user:password}; and
 * {@code Basic <40-char token>:} (an empty password) checked as a token. Failures are 401 with
 * the reference's messages.
 *
 * <p>Password checks go through {@link PasswordGuard}: throttled after repeated failures (429 with
 * {@code Retry-After}), the same cost for unknown usernames, one verification for identical
 * concurrent requests. Tokens are not throttled: they are 160 random bits, compared without any
 * hashing, so guessing them is hopeless and cheap to refuse.
 */
@Stateless
// Reads only: no JTA transaction is begun for it (it runs on every request).
@TransactionAttribute(TransactionAttributeType.SUPPORTS)
public class AuthenticationService {

    static final String NO_CREDENTIALS = "Authentication credentials were not provided.";
    static final String BAD_PASSWORD = "Invalid username/password.";
    static final String BAD_TOKEN = "Invalid token.";

    @PersistenceContext
    EntityManager em;

    @Inject
    VerifiedCredentials verified;

    @Inject
    PasswordGuard guard;

    /**
     * The authenticated user; throws 401 when the header is missing or wrong, 429 or 503 (with
     * {@code Retry-After}) when its password may not be checked now. {@code clientAddress} is what
     * failures count against ({@link PasswordGuard#clientAddress}).
     */
    public User authenticate(String header, String clientAddress) {
        if (header == null || header.isBlank()) {
            throw ApiException.unauthorized(NO_CREDENTIALS);
        }
        String[] parts = header.trim().split("\\s+");
        String scheme = parts[0];
        if (scheme.equalsIgnoreCase("Token")) {
            if (parts.length == 1) {
                throw ApiException.unauthorized("Invalid token header. No credentials provided.");
            }
            if (parts.length > 2) {
                throw ApiException.unauthorized("Invalid token header. Token string should not contain spaces.");
            }
            return byToken(header, parts[1]);
        }
        if (scheme.equalsIgnoreCase("Basic")) {
            if (parts.length == 1) {
                throw ApiException.unauthorized("Invalid basic header. No credentials provided.");
            }
            if (parts.length > 2) {
                throw ApiException.unauthorized("Invalid basic header. Credentials string should not contain spaces.");
            }
            return byBasic(header, parts[1], clientAddress);
        }
        throw ApiException.unauthorized(NO_CREDENTIALS);
    }

    private User byToken(String header, String token) {
        // a NUL would reach the token query and fail there (PostgreSQL stores no NUL: a 500); no
        // token holds one
        if (token.length() != 40 || hasNul(token)) {
            throw ApiException.unauthorized(BAD_TOKEN);
        }
        // a primary-key read instead of the token query when this header was seen recently
        VerifiedCredentials.Verified known = verified.lookup(header);
        if (known != null) {
            User user = em.find(User.class, known.userId());
            if (user != null && user.getToken().equals(token)) {
                return user;
            }
            verified.forget(header);
        }
        List<User> users = em.createNamedQuery(User.BY_TOKEN, User.class)
                .setParameter("token", token).getResultList();
        if (users.isEmpty()) {
            throw ApiException.unauthorized(BAD_TOKEN);
        }
        User user = users.get(0);
        verified.remember(header, user.getId(), user.getToken());
        return user;
    }

    private User byBasic(String header, String encoded, String clientAddress) {
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw ApiException.unauthorized("Invalid basic header. Credentials not correctly base64 encoded.");
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            throw ApiException.unauthorized("Invalid basic header. Credentials not correctly base64 encoded.");
        }
        String username = decoded.substring(0, colon);
        String password = decoded.substring(colon + 1);
        if (username.length() == 40 && password.isEmpty()) {
            return byToken(header, username);
        }
        if (hasNul(username)) {
            // No user can have such a name (sign-up allows letters, digits and @.+-_), and the
            // database would refuse the look-up with an error (a 500). Refused unchecked: the
            // immediate answer tells nothing about who exists, and it counts as no failure.
            throw ApiException.unauthorized(BAD_PASSWORD);
        }
        VerifiedCredentials.Verified known = verified.lookup(header);
        if (known != null) {
            User user = em.find(User.class, known.userId());
            if (user != null && user.getUsername().equals(username)
                    && user.getPasswordHash().equals(known.proof())) {
                return user;
            }
            verified.forget(header);
        }
        // A header seen and verified recently is no guess: the cache above answers it even while
        // its username or address is throttled. Everything else is a password check.
        PasswordChecks.Result result = guard.check(username, password, clientAddress, this::storedPassword);
        switch (result.status()) {
            case THROTTLED:
                throw RetryLater.throttled(result.retryAfterSeconds());
            case BUSY:
                throw RetryLater.busy(result.retryAfterSeconds());
            case REFUSED:
                throw ApiException.unauthorized(BAD_PASSWORD);
            default:
                break;
        }
        User user = em.find(User.class, result.userId());
        if (user == null || !user.getPasswordHash().equals(result.passwordHash())) {
            // changed (or removed) while it was being checked
            throw ApiException.unauthorized(BAD_PASSWORD);
        }
        verified.remember(header, user.getId(), user.getPasswordHash());
        return user;
    }

    /** Whether text holds U+0000, which PostgreSQL cannot compare with a {@code text} column. */
    static boolean hasNul(String text) {
        return text.indexOf('\0') >= 0;
    }

    private PasswordChecks.Stored storedPassword(String username) {
        List<User> users = em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", username).getResultList();
        return users.isEmpty() ? null : new PasswordChecks.Stored(users.get(0).getId(), users.get(0).getPasswordHash());
    }
}
