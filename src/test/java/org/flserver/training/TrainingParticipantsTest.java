package org.flserver.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.flserver.model.GlobalModel;
import org.flserver.user.User;
import org.junit.jupiter.api.Test;

/** The participants of a training as callers see them: a set that keeps the order of joining. */
class TrainingParticipantsTest {

    private final User actor = new User("actor", "hash", "t0");
    private final Training training = new Training(new GlobalModel(actor, 0, "m", "d"), actor, 1);

    @Test
    void keepsTheOrderOfJoiningAndNoUserTwice() {
        User c = new User("c", "hash", "t3");
        User a = new User("a", "hash", "t1");
        User b = new User("b", "hash", "t2");
        assertTrue(training.getParticipants().addAll(List.of(c, a)));
        assertFalse(training.getParticipants().add(c));
        assertTrue(training.getParticipants().add(b));
        assertEquals(List.of(c, a, b), new ArrayList<>(training.getParticipants()));
        assertEquals(3, training.getParticipants().size());

        // leaving and joining again puts a participant last
        assertTrue(training.getParticipants().remove(c));
        assertEquals(List.of(a, b), new ArrayList<>(training.getParticipants()));
        training.getParticipants().add(c);
        assertEquals(List.of(a, b, c), new ArrayList<>(training.getParticipants()));
        assertTrue(training.getParticipants().removeIf(u -> u == a));
        assertEquals(List.of(b, c), new ArrayList<>(training.getParticipants()));
        assertTrue(training.getParticipants().contains(b));
        assertFalse(training.getParticipants().contains(a));
    }
}
