package org.flserver.user;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.platform.ApiException;
import org.flserver.platform.UniqueKeys;

/** Users and their groups: creation with a hashed password and a fresh token, and look-ups. */
@Stateless
public class UserService {

    @PersistenceContext
    EntityManager em;

    @Inject
    @ConfigProperty(name = "fl.auth.pbkdf2-iterations", defaultValue = "600000")
    int pbkdf2Iterations;

    @Inject
    PasswordGuard guard;

    public User create(NewUser request) {
        if (!em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", request.username()).getResultList().isEmpty()) {
            throw duplicateUsername();
        }
        User user = new User(request.username(), guard.hashNewPassword(request.password()), PasswordHasher.newToken());
        user.setFirstName(request.firstName());
        user.setLastName(request.lastName());
        user.setEmail(request.email());
        user.setActor(request.actor());
        user.setClient(request.client());
        user.setMessageEndpoint(request.messageEndpoint());
        em.persist(user);
        // a concurrent sign-up with the same name passed the check too (the hash above takes long):
        // the unique key refuses one of them here, with the same answer (the token's key cannot
        // collide in practice: 160 random bits)
        UniqueKeys.flush(em, UserService::duplicateUsername);
        return user;
    }

    private static ApiException duplicateUsername() {
        return ApiException.field("username", "A user with that username already exists.");
    }

    /** Creates or promotes the configured administrator (first start); its password is (re)set. */
    public User ensureSuperuser(String username, String password) {
        List<User> found = em.createNamedQuery(User.BY_USERNAME, User.class)
                .setParameter("username", username).getResultList();
        User user;
        if (found.isEmpty()) {
            user = new User(username, PasswordHasher.hash(password, pbkdf2Iterations), PasswordHasher.newToken());
            em.persist(user);
        } else {
            user = found.get(0);
            if (!PasswordHasher.verify(password, user.getPasswordHash())) {
                user.setPasswordHash(PasswordHasher.hash(password, pbkdf2Iterations));
            }
        }
        user.setSuperuser(true);
        return user;
    }

    public User get(UUID id) {
        User user = em.find(User.class, id);
        if (user == null) {
            throw ApiException.notFound("User", id);
        }
        return user;
    }

    /**
     * The user's row, locked ({@code PESSIMISTIC_WRITE}) for the rest of the transaction: creations
     * counted against a per-user limit take it first, so that two at the same time cannot both find
     * room for one more.
     */
    public User lockedForCreation(UUID id) {
        User user = em.find(User.class, id, LockModeType.PESSIMISTIC_WRITE);
        if (user == null) {
            throw ApiException.notFound("User", id);
        }
        return user;
    }

    public List<User> all() {
        return em.createNamedQuery(User.ALL, User.class).getResultList();
    }

    /** Users by id, all of which must exist (the reference's "Not all provided users were found!"). */
    public List<User> allOf(Collection<UUID> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        Map<UUID, User> found = new HashMap<>();
        em.createQuery("SELECT u FROM User u WHERE u.id IN :ids", User.class)
                .setParameter("ids", ids).getResultList().forEach(u -> found.put(u.getId(), u));
        if (found.size() != new HashSet<>(ids).size()) {
            throw ApiException.badRequest("Not all provided users were found!");
        }
        // in the order asked for, so that participants join in the order the request lists them
        return ids.stream().distinct().map(found::get).toList();
    }

    public List<Group> groupsOf(UUID userId) {
        return get(userId).getGroups().stream().sorted(Comparator.comparing(Group::getId)).toList();
    }
}
