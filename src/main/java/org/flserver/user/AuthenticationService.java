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

    /** The authenticated user; throws 401 when the header is missing or wrong. */
    public User authenticate(String header) {
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
            return byBasic(header, parts[1]);
        }
        throw ApiException.unauthorized(NO_CREDENTIALS);
    }

    private User byToken(String header, String token) {
        if (token.length() != 40) {
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

    private User byBasic(String header, String encoded) {
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
        VerifiedCredentials.Verified known = verified.lookup(header);
        if (known != null) {
            User user = em.find(User.class, known.userId());
            if (user != null && user.getUsername().equals(username)
                    && user.getPasswordHash().equals(known.proof())) {
                return user;
            }
            verified.forget(header);
        }
        List<User> users = em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", username).getResultList();
        if (users.isEmpty() || !PasswordHasher.verify(password, users.get(0).getPasswordHash())) {
            throw ApiException.unauthorized(BAD_PASSWORD);
        }
        User user = users.get(0);
        verified.remember(header, user.getId(), user.getPasswordHash());
        return user;
    }
}
