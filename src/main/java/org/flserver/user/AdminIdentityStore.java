package org.flserver.user;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.security.enterprise.credential.UsernamePasswordCredential;
import jakarta.security.enterprise.identitystore.CredentialValidationResult;
import jakarta.security.enterprise.identitystore.IdentityStore;
import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import java.util.Set;

/**
 * The identity store behind the admin pages' form login (Jakarta Security): only a superuser
 * whose password matches gets in, with the group {@value #ADMIN_GROUP}. Everyone else, including
 * a valid non-superuser, is simply invalid, so the login page cannot be used to probe who exists.
 *
 * <p>The password is checked through {@link PasswordGuard}, like the API's Basic authentication:
 * the same failure counts, the same cost for unknown users, and when the check is throttled the
 * store refuses without checking and leaves the wait in the request attribute
 * {@value #RETRY_AFTER_ATTRIBUTE} for the login page to show.
 *
 * <p>The API does not use this store: it authenticates every request itself
 * ({@link AuthenticationFilter}), with its own 401 bodies.
 */
@ApplicationScoped
public class AdminIdentityStore implements IdentityStore {

    /** The group (and, through glassfish-web.xml / default mapping, the role) of administrators. */
    public static final String ADMIN_GROUP = "admin";

    /** Request attribute (a Long, seconds) set when a login was refused unchecked because of earlier failures. */
    public static final String RETRY_AFTER_ATTRIBUTE = "org.flserver.login.retryAfter";

    @PersistenceContext
    EntityManager em;

    @Inject
    PasswordGuard guard;

    /** The current HTTP request (CDI's built-in bean), for the client address and the retry attribute. */
    @Inject
    HttpServletRequest request;

    /** Called by {@link IdentityStore#validate(jakarta.security.enterprise.credential.Credential)}. */
    public CredentialValidationResult validate(UsernamePasswordCredential credential) {
        String username = credential.getCaller() == null ? "" : credential.getCaller();
        if (AuthenticationService.hasNul(username)) {
            // no user has such a name, and the database would fail on the look-up (a 500)
            return CredentialValidationResult.INVALID_RESULT;
        }
        // Everybody's password is checked, superuser or not: refusing non-superusers before the
        // (slow) check would tell by the answer time who the superusers are.
        PasswordChecks.Result result = guard.check(username, credential.getPasswordAsString(),
                guard.clientAddress(request), this::storedPassword);
        if (result.status() == PasswordChecks.Status.THROTTLED || result.status() == PasswordChecks.Status.BUSY) {
            request.setAttribute(RETRY_AFTER_ATTRIBUTE, result.retryAfterSeconds());
            return CredentialValidationResult.INVALID_RESULT;
        }
        if (result.status() != PasswordChecks.Status.ACCEPTED) {
            return CredentialValidationResult.INVALID_RESULT;
        }
        User user = em.find(User.class, result.userId());
        if (user == null || !user.isSuperuser() || !user.getPasswordHash().equals(result.passwordHash())) {
            return CredentialValidationResult.INVALID_RESULT;
        }
        return new CredentialValidationResult(user.getUsername(), Set.of(ADMIN_GROUP));
    }

    private PasswordChecks.Stored storedPassword(String username) {
        List<User> found = em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", username).getResultList();
        return found.isEmpty() ? null : new PasswordChecks.Stored(found.get(0).getId(), found.get(0).getPasswordHash());
    }
}
