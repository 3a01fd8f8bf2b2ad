package org.flserver.round;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;

/**
 * Which participants a training round invites when the training sets {@code clients_per_round}
 * (design.md §5.4): a random draw that is a pure function of the training id, the round and the
 * current participants, so that every instance and every restart draws the same.
 *
 * <p>The draw walks an endless sequence of shuffles of the participants (sorted by id, each
 * shuffle seeded from the training id and its index, {@link Random} being specified bit for bit by
 * the JDK): round r takes the next k distinct participants from position r·k on. Every participant
 * therefore comes up once per n/k rounds (rounded up, plus one round where two shuffles meet) —
 * random, but no one is left out for long, which an independent draw per round cannot promise.
 */
public final class ClientSampling {

    private ClientSampling() {
    }

    /** The {@code k} participants of {@code round}, in draw order ({@code k ≥ n}: all, in the given order). */
    public static List<UUID> draw(UUID trainingId, int round, List<UUID> participants, int k) {
        int n = participants.size();
        if (k >= n) {
            return List.copyOf(participants);
        }
        List<UUID> sorted = new ArrayList<>(participants);
        sorted.sort(Comparator.naturalOrder());
        Set<UUID> chosen = new LinkedHashSet<>();
        long position = (long) Math.max(0, round) * k;
        long epoch = -1;
        List<UUID> shuffled = null;
        while (chosen.size() < k) {
            long e = position / n;
            if (e != epoch) {
                epoch = e;
                shuffled = shuffle(sorted, seed(trainingId, epoch));
            }
            chosen.add(shuffled.get((int) (position % n)));
            position++;
        }
        return List.copyOf(chosen);
    }

    private static long seed(UUID trainingId, long epoch) {
        return trainingId.getMostSignificantBits() ^ Long.rotateLeft(trainingId.getLeastSignificantBits(), 17)
                ^ (epoch * 0x9E3779B97F4A7C15L);
    }

    /** Fisher–Yates with {@link Random}, written out so the order never depends on a library's choice. */
    private static List<UUID> shuffle(List<UUID> sorted, long seed) {
        List<UUID> out = new ArrayList<>(sorted);
        Random random = new Random(seed);
        for (int i = out.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            UUID t = out.get(i);
            out.set(i, out.get(j));
            out.set(j, t);
        }
        return out;
    }
}
