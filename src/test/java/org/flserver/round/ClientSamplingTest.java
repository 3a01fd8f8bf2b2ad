package org.flserver.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The client draw of {@code clients_per_round} (design.md §5.4): reproducible, fair, distinct. */
class ClientSamplingTest {

    private static List<UUID> participants(Random random, int n) {
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(new UUID(random.nextLong(), random.nextLong()));
        }
        return ids;
    }

    @Test
    void theSameTrainingAndRoundDrawTheSameWhateverTheParticipantsOrder() {
        Random random = new Random(1);
        UUID training = new UUID(random.nextLong(), random.nextLong());
        List<UUID> ids = participants(random, 7);
        List<UUID> shuffled = new ArrayList<>(ids);
        Collections.shuffle(shuffled, random);
        for (int round = 0; round < 20; round++) {
            assertEquals(ClientSampling.draw(training, round, ids, 3), ClientSampling.draw(training, round, shuffled, 3));
        }
    }

    @Test
    void eachRoundDrawsKDistinctParticipantsAndEveryoneComesUpWithinTenRoundsOfTwoOfFive() {
        Random random = new Random(2);
        for (int trial = 0; trial < 500; trial++) {
            UUID training = new UUID(random.nextLong(), random.nextLong());
            List<UUID> ids = participants(random, 5);
            Set<UUID> seen = new HashSet<>();
            for (int round = 0; round < 10; round++) {
                List<UUID> drawn = ClientSampling.draw(training, round, ids, 2);
                assertEquals(2, drawn.size());
                assertEquals(2, new HashSet<>(drawn).size(), "distinct");
                assertTrue(ids.containsAll(drawn));
                seen.addAll(drawn);
            }
            assertEquals(Set.copyOf(ids), seen, "trial " + trial);
        }
    }

    @Test
    void differentTrainingsDrawDifferently() {
        Random random = new Random(3);
        List<UUID> ids = participants(random, 10);
        Set<List<UUID>> draws = new HashSet<>();
        for (int t = 0; t < 20; t++) {
            draws.add(ClientSampling.draw(new UUID(random.nextLong(), random.nextLong()), 0, ids, 3));
        }
        assertNotEquals(1, draws.size(), "the draw depends on the training id");
    }

    @Test
    void askingForAtLeastEveryoneInvitesEveryone() {
        List<UUID> ids = participants(new Random(4), 3);
        assertEquals(ids, ClientSampling.draw(UUID.randomUUID(), 5, ids, 3));
        assertEquals(ids, ClientSampling.draw(UUID.randomUUID(), 5, ids, 8));
    }
}
