package org.flserver.user;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.security.enterprise.credential.UsernamePasswordCredential;
import jakarta.security.enterprise.identitystore.CredentialValidationResult;
import jakarta.security.enterprise.identitystore.IdentityStore;
import java.util.List;
import java.util.Set;

/**
 * The identity store behind the admin pages' form login (Jakarta Security): only a superuser
 * whose password matches gets in, with the group {@value #ADMIN_GROUP}. Everyone else, including
 * a valid non-superuser, is simply invalid, so the login page cannot be used to probe who exists.
 *
 * <p>The API does not use this store: it authenticates every request itself
 * ({@link AuthenticationFilter}), with its own 401 bodies.
 */
@ApplicationScoped
public class AdminIdentityStore implements IdentityStore {

    /** The group (and, through glassfish-web.xml / default mapping, the role) of administrators. */
    public static final String ADMIN_GROUP = "admin";

    @PersistenceContext
    EntityManager em;

    /** Called by {@link IdentityStore#validate(jakarta.security.enterprise.credential.Credential)}. */
    public CredentialValidationResult validate(UsernamePasswordCredential credential) {
        List<User> found = em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", credential.getCaller()).getResultList();
        if (found.isEmpty()) {
            return CredentialValidationResult.INVALID_RESULT;
        }
        User user = found.get(0);
        if (!user.isSuperuser() || !PasswordHasher.verify(credential.getPasswordAsString(), user.getPasswordHash())) {
            return CredentialValidationResult.INVALID_RESULT;
        }
        return new CredentialValidationResult(user.getUsername(), Set.of(ADMIN_GROUP));
    }
}
