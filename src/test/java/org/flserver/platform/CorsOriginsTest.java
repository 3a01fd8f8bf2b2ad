package org.flserver.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CorsOriginsTest {

    @Test
    void nothingConfiguredAllowsNothing() {
        for (String setting : new String[] {null, "", " , "}) {
            CorsOrigins origins = CorsOrigins.parse(setting);
            assertFalse(origins.enabled());
            assertFalse(origins.allows("http://localhost:3000"));
        }
    }

    @Test
    void exactOriginsAsBrowsersSendThem() {
        CorsOrigins origins = CorsOrigins.parse(" http://localhost:3000 , HTTPS://UI.Example.org:443/");
        assertTrue(origins.enabled());
        assertTrue(origins.allows("http://localhost:3000"));
        assertTrue(origins.allows("https://ui.example.org"));
        assertFalse(origins.allows("http://localhost:3001"));
        assertFalse(origins.allows("https://localhost:3000"));
        assertFalse(origins.allows("http://ui.example.org"));
        assertFalse(origins.allows("https://ui.example.org.evil.test"));
        assertFalse(origins.allows("null"));
        assertFalse(origins.allows(null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"*", "http://a.test, *", "localhost:3000", "ftp://a.test", "http://a.test/app",
            "http://a.test?x", "http://user@a.test", "null", "http://"})
    void refusesWhatIsNoOrigin(String setting) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CorsOrigins.parse(setting));
        assertTrue(e.getMessage().contains("not an origin") || e.getMessage().contains("'*' is not allowed"),
                e.getMessage());
    }

    @Test
    void starIsRefusedBecauseAnswersCarryCredentials() {
        assertEquals("'*' is not allowed: answers to allowed origins carry credentials, so list the origins one by one",
                assertThrows(IllegalArgumentException.class, () -> CorsOrigins.parse("*")).getMessage());
    }
}
