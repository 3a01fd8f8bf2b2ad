package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.ejb.EJB;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.UUID;
import org.flserver.platform.ApiException;
import org.flserver.user.AuthenticationService;
import org.flserver.user.NewUser;
import org.flserver.user.PasswordHasher;
import org.flserver.user.User;
import org.flserver.user.UserService;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.Test;

/**
 * In-container tests (Arquillian, Payara Micro, PostgreSQL) of the user services: what is stored
 * for a new user, and that authentication sees a password change at once despite its cache.
 */
@InContainer
class UserServiceInContainerIT {

    @Deployment
    static WebArchive deployment() {
        return Deployments.builtWar();
    }

    @EJB
    UserService users;

    @EJB
    AuthenticationService authentication;

    @EJB
    TestTransactions transactions;

    @PersistenceContext
    EntityManager em;

    @Test
    void passwordIsStoredHashedAndTokenIsRandomHex() {
        User user = users.create(new NewUser("ic-" + UUID.randomUUID(), "s3cret", "", "", "", true, false, ""));
        String stored = transactions.call(() -> em.find(User.class, user.getId()).getPasswordHash());
        assertTrue(stored.startsWith("pbkdf2_sha256$"), stored);
        assertTrue(!stored.contains("s3cret"));
        assertTrue(PasswordHasher.verify("s3cret", stored));
        assertTrue(user.getToken().matches("[0-9a-f]{40}"));
        User other = users.create(new NewUser("ic-" + UUID.randomUUID(), "s3cret", "", "", "", false, true, ""));
        assertNotEquals(user.getToken(), other.getToken());
    }

    @Test
    void cachedBasicCredentialsDieWithAPasswordChange() {
        String name = "ic-" + UUID.randomUUID();
        User user = users.create(new NewUser(name, "first", "", "", "", false, false, ""));
        String header = "Basic " + java.util.Base64.getEncoder().encodeToString((name + ":first").getBytes());
        assertEquals(user.getId(), authentication.authenticate(header, "192.0.2.1").getId());
        assertEquals(user.getId(), authentication.authenticate(header, "192.0.2.1").getId()); // from the cache
        transactions.run(() -> em.find(User.class, user.getId()).setPasswordHash(PasswordHasher.hash("second", 1000)));
        ApiException refused = assertThrows(ApiException.class, () -> authentication.authenticate(header, "192.0.2.1"));
        assertEquals(401, refused.status());
    }
}
