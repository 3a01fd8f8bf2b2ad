package org.flserver.user;

import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.List;
import java.util.UUID;
import org.flserver.platform.ApiException;
import org.flserver.platform.UniqueKeys;

/**
 * Groups (api.md §4): anyone may create one, only superusers list them all, and only members read,
 * rename or delete one. Membership itself is not managed through the API, as in the reference.
 */
@Stateless
public class GroupService {

    @PersistenceContext
    EntityManager em;

    public List<Group> all(UUID callerId) {
        if (!caller(callerId).isSuperuser()) {
            throw ApiException.forbidden("You are not allowed to access all groups.");
        }
        return em.createQuery("SELECT g FROM Group g ORDER BY g.id", Group.class).getResultList();
    }

    public Group create(String name) {
        requireUniqueName(name, null);
        Group group = new Group(name);
        em.persist(group);
        // a concurrent create of the same name passed the check too: the unique key refuses it here
        UniqueKeys.flush(em, GroupService::duplicateName);
        return group;
    }

    public Group get(UUID callerId, long id) {
        return memberGroup(callerId, id, LockModeType.NONE);
    }

    public Group rename(UUID callerId, long id, String name) {
        Group group = memberGroup(callerId, id, LockModeType.PESSIMISTIC_WRITE);
        requireUniqueName(name, group.getId());
        group.setName(name);
        UniqueKeys.flush(em, GroupService::duplicateName);
        return group;
    }

    public void delete(UUID callerId, long id) {
        Group group = memberGroup(callerId, id, LockModeType.PESSIMISTIC_WRITE);
        em.createNativeQuery("DELETE FROM fl_user_group WHERE group_id = ?").setParameter(1, group.getId())
                .executeUpdate();
        for (User member : em.createQuery("SELECT u FROM User u JOIN u.groups g WHERE g.id = :id", User.class)
                .setParameter("id", group.getId()).getResultList()) {
            member.getGroups().remove(group);
        }
        em.remove(group);
    }

    private Group memberGroup(UUID callerId, long id, LockModeType lock) {
        Group group = em.find(Group.class, id, lock);
        if (group == null) {
            throw ApiException.notFound("Group", id);
        }
        if (!caller(callerId).getGroups().contains(group)) {
            throw ApiException.forbidden("You are not allowed to access this group.");
        }
        return group;
    }

    private void requireUniqueName(String name, Long except) {
        List<Group> same = em.createQuery("SELECT g FROM Group g WHERE g.name = :name", Group.class)
                .setParameter("name", name).getResultList();
        if (same.stream().anyMatch(g -> !g.getId().equals(except))) {
            throw duplicateName();
        }
    }

    private static ApiException duplicateName() {
        return ApiException.field("name", "group with this name already exists.");
    }

    private User caller(UUID id) {
        User user = em.find(User.class, id);
        if (user == null) {
            throw ApiException.unauthorized("Invalid token.");
        }
        return user;
    }
}
