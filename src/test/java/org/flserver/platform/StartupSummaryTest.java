package org.flserver.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StartupSummaryTest {

    @Test
    void jdbcUrlsLoseTheirPasswordsAndKeepEverythingElse() {
        assertEquals("jdbc:h2:./fl-data/db/fl;MODE=LEGACY",
                StartupSummary.withoutPassword("jdbc:h2:./fl-data/db/fl;MODE=LEGACY"));
        assertEquals("jdbc:postgresql://db:5432/fl?user=fl&password=***&ssl=true",
                StartupSummary.withoutPassword("jdbc:postgresql://db:5432/fl?user=fl&password=s3cret&ssl=true"));
        assertEquals("jdbc:h2:tcp://host/db;USER=sa;PASSWORD=***;MODE=LEGACY",
                StartupSummary.withoutPassword("jdbc:h2:tcp://host/db;USER=sa;PASSWORD=x&y;MODE=LEGACY"));
        assertEquals("jdbc:postgresql://fl:***@db:5432/fl",
                StartupSummary.withoutPassword("jdbc:postgresql://fl:secret@db:5432/fl"));
        assertEquals("(unknown URL)", StartupSummary.withoutPassword(null));
    }
}
