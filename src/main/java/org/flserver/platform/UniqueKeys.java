package org.flserver.platform;

import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceException;
import java.util.function.Supplier;

/**
 * Turns a unique-key violation into the refusal a client gets for the same duplicate found by a
 * check. Services check for a duplicate before they write (so the usual case answers without a
 * failed statement), but two concurrent requests can both pass the check; the database's unique key
 * then refuses the second insert, at the flush. Flushing here, inside the request's transaction,
 * lets that second request get the same 4xx as a sequential duplicate instead of a 500 at commit.
 */
public final class UniqueKeys {

    private UniqueKeys() {
    }

    /**
     * Flushes; a unique-key violation becomes {@code duplicate}'s exception (an {@link ApiException},
     * which rolls the transaction back, as the failed flush has marked it to be anyway).
     */
    public static void flush(EntityManager em, Supplier<ApiException> duplicate) {
        try {
            em.flush();
        } catch (PersistenceException e) {
            if (isViolation(e)) {
                throw duplicate.get();
            }
            throw e;
        }
    }

    /** Whether e, or an exception it wraps, is a unique-key violation. */
    public static boolean isViolation(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.sql.SQLException sql && "23505".equals(sql.getSQLState())) {
                return true; // PostgreSQL and H2 both report unique violations as SQLSTATE 23505
            }
        }
        return false;
    }
}
