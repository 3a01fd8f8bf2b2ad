package org.flserver.training;

import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.math.BigDecimal;
import org.flserver.platform.ApiException;

/**
 * The round settings a training's free {@code options} JSON may carry (api.md §6.6,
 * design.md §5.4): {@code round_timeout_seconds} (a collection phase closes at the latest this long
 * after it opened), {@code min_participants} (the quorum at the deadline) and
 * {@code clients_per_round} (how many participants each training round invites). They live in the
 * options, not in columns, because the Training entity keeps exactly the seed's fields.
 *
 * <p>A training without any of the three keys runs exactly as before: no phase rows, no deadline,
 * every participant expected ({@link #controlsPhases()} is false). Absent and JSON {@code null}
 * mean the same.
 *
 * @param timeoutMillis      the phase timeout in milliseconds, or null for no deadline
 * @param minParticipants    the quorum, or null for "every expected participant"
 * @param clientsPerRound    the participants drawn per training round, or null for all
 */
public record RoundOptions(Long timeoutMillis, Integer minParticipants, Integer clientsPerRound) {

    public static final String TIMEOUT = "round_timeout_seconds";
    public static final String MIN_PARTICIPANTS = "min_participants";
    public static final String CLIENTS_PER_ROUND = "clients_per_round";

    /** A year: long enough for any real round, short enough that the deadline never overflows. */
    static final long MAX_TIMEOUT_SECONDS = 366L * 24 * 3600;

    private static final RoundOptions NONE = new RoundOptions(null, null, null);

    /**
     * The settings of a stored training. Its options were checked when it was created and again at
     * its start; a training stored before these keys were checked may carry values that fail the
     * check, and it keeps running as it did then, without round options (never a failure inside
     * the round engine).
     */
    public static RoundOptions of(Training training) {
        try {
            return parse(training.optionsJson(), CREATION);
        } catch (ApiException e) {
            return NONE;
        }
    }

    /** Whether the training uses any of the settings: only then are phases stored and counted per phase. */
    public boolean controlsPhases() {
        return timeoutMillis != null || minParticipants != null || clientsPerRound != null;
    }

    /**
     * Reads and checks the three keys (at creation, api.md §6.6): a clear message naming the key and
     * saying that creation refused it; nothing is stored then.
     */
    static RoundOptions parse(JsonObject options) {
        return parse(options, CREATION);
    }

    /** How a refusal says when it was checked (api.md §6.6). */
    private static final String CREATION = "checked when the training is created";
    private static final String START = "checked at start";

    private static RoundOptions parse(JsonObject options, String when) {
        Long timeout = null;
        JsonValue t = options.get(TIMEOUT);
        if (!OptionValues.absent(t)) {
            if (!(t instanceof JsonNumber n) || n.bigDecimalValue().signum() <= 0
                    || n.bigDecimalValue().compareTo(BigDecimal.valueOf(MAX_TIMEOUT_SECONDS)) > 0) {
                throw refused(TIMEOUT + " must be a number greater than 0 and at most " + MAX_TIMEOUT_SECONDS
                        + " (seconds).", when);
            }
            // at least one millisecond: a positive timeout never rounds to "already due"
            timeout = Math.max(1, n.bigDecimalValue().movePointRight(3).longValue());
        }
        Integer min = positiveInt(options.get(MIN_PARTICIPANTS), MIN_PARTICIPANTS, when);
        Integer perRound = positiveInt(options.get(CLIENTS_PER_ROUND), CLIENTS_PER_ROUND, when);
        if (min != null && perRound != null && min > perRound) {
            throw refused(MIN_PARTICIPANTS + " (" + min + ") must not exceed " + CLIENTS_PER_ROUND + " (" + perRound
                    + "): a round invites only that many.", when);
        }
        return new RoundOptions(timeout, min, perRound);
    }

    /**
     * What can only be checked when the participants are known (api.md §6.6): the quorum must be
     * reachable. Refused with 400 at start; the training stays in {@code I}.
     */
    static void checkAtStart(Training training) {
        JsonObject options = training.optionsJson();
        RoundOptions checked;
        try {
            checked = parse(options, START);
        } catch (ApiException e) {
            // a training stored before these keys were checked: refused now, and saying so
            throw ApiException.badRequest("The training cannot start: options." + e.getMessage()
                    .substring("options: ".length()));
        }
        checked.checkQuorum(training.getParticipants().size());
    }

    private void checkQuorum(int participants) {
        if (minParticipants != null && minParticipants > participants) {
            throw ApiException.badRequest("The training cannot start (options checked at start): "
                    + MIN_PARTICIPANTS + " is " + minParticipants + " but the training has " + participants
                    + " participant" + (participants == 1 ? "" : "s") + ".");
        }
    }

    /** The quorum of a phase that expects {@code expected} participants. */
    public int quorum(int expected) {
        return minParticipants == null ? expected : minParticipants;
    }

    private static Integer positiveInt(JsonValue v, String key, String when) {
        if (OptionValues.absent(v)) {
            return null;
        }
        if (!OptionValues.isIntAtLeast(v, 1)) {
            throw refused(key + " must be an integer of at least 1.", when);
        }
        return ((JsonNumber) v).intValue();
    }

    private static ApiException refused(String text, String when) {
        return ApiException.field("options", text + " (" + when + ")");
    }
}
