package org.flserver.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.io.StringReader;
import org.flserver.model.GlobalModel;
import org.flserver.platform.ApiException;
import org.flserver.platform.Jsonp;
import org.flserver.user.User;
import org.junit.jupiter.api.Test;

/** The round options of api.md §6.6: what creation accepts and refuses, what start checks. */
class RoundOptionsTest {

    static JsonObject json(String text) {
        try (var reader = Jsonp.createReader(new StringReader(text))) {
            return reader.readObject();
        }
    }

    /** A training with these options and this many participants (shared with AggregationOptionsTest). */
    static Training training(String options, int participants) {
        User actor = new User("actor", "hash", "t0");
        Training t = new Training(new GlobalModel(actor, 0, "m", "d"), actor, 1);
        t.setOptions(json(options));
        for (int i = 0; i < participants; i++) {
            t.getParticipants().add(new User("p" + i, "hash", "t" + (i + 1)));
        }
        return t;
    }

    @Test
    void validOptionsAreRead() {
        RoundOptions o = RoundOptions.parse(json("{\"round_timeout_seconds\": 2.5, \"min_participants\": 2,"
                + " \"clients_per_round\": 3}"));
        assertEquals(new RoundOptions(2500L, 2, 3), o);
        assertTrue(o.controlsPhases());
        assertEquals(2, o.quorum(3));
        RoundOptions none = RoundOptions.parse(json("{\"daisy_chain_period\": 2, \"round_timeout_seconds\": null}"));
        assertFalse(none.controlsPhases());
        assertEquals(3, none.quorum(3), "the default quorum is every expected participant");
    }

    @Test
    void badOptionsAreRefusedNamingTheKeyAndTheMoment() {
        String[] bad = {"{\"round_timeout_seconds\": 0}", "{\"round_timeout_seconds\": -1}",
            "{\"round_timeout_seconds\": \"3\"}", "{\"round_timeout_seconds\": 1e12}", "{\"min_participants\": 0}",
            "{\"min_participants\": 2.5}", "{\"min_participants\": 4294967296}", "{\"clients_per_round\": 0}",
            "{\"clients_per_round\": [2]}", "{\"min_participants\": 3, \"clients_per_round\": 2}"};
        for (String options : bad) {
            ApiException e = assertThrows(ApiException.class, () -> RoundOptions.parse(json(options)), options);
            String key = options.substring(2, options.indexOf('"', 2));
            assertTrue(e.getMessage().startsWith("options: " + key), e.getMessage());
            assertTrue(e.getMessage().endsWith("(checked when the training is created)"), e.getMessage());
        }
    }

    @Test
    void aQuorumAboveTheParticipantsIsRefusedAtStart() {
        RoundOptions.checkAtStart(training("{\"min_participants\": 2}", 2));
        ApiException e = assertThrows(ApiException.class,
                () -> RoundOptions.checkAtStart(training("{\"min_participants\": 3}", 2)));
        assertEquals("The training cannot start (options checked at start): min_participants is 3 but the training"
                + " has 2 participants.", e.getMessage());
    }

    @Test
    void aStoredTrainingWithOptionsThatNoLongerPassRunsWithoutRoundOptionsButCannotStart() {
        Training old = training("{\"round_timeout_seconds\": \"soon\"}", 1);
        assertFalse(RoundOptions.of(old).controlsPhases());
        ApiException e = assertThrows(ApiException.class, () -> RoundOptions.checkAtStart(old));
        assertTrue(e.getMessage().startsWith("The training cannot start: options.round_timeout_seconds must be")
                && e.getMessage().endsWith("(checked at start)"), e.getMessage());
    }
}
