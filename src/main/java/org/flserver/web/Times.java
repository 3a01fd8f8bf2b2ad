package org.flserver.web;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** How the admin pages write instants: UTC, to the second, the same on every screen. */
final class Times {

    private Times() {
    }

    static String text(OffsetDateTime time) {
        return time == null ? "" : TrainingRow.TIME.format(time.atZoneSameInstant(ZoneOffset.UTC));
    }
}
