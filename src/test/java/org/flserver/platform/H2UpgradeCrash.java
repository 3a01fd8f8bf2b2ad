package org.flserver.platform;

import org.flywaydb.core.api.callback.Callback;
import org.flywaydb.core.api.callback.Context;
import org.flywaydb.core.api.callback.Event;
import org.h2.jdbcx.JdbcDataSource;

/**
 * A server start that dies in the middle of the schema upgrade: runs {@link H2SchemaUpgrade} on the
 * H2 database at args[0] and halts the JVM (no shutdown hooks, no finally blocks, as a kill -9 would)
 * at args[1]: {@code V:N} after the N-th statement of migration V, {@code done} after the last
 * migration, before {@link H2SchemaUpgrade} gets to delete its backup. Exits with {@link #HALTED}
 * when it got there, with 0 when the upgrade ran to its end without passing that point.
 */
public final class H2UpgradeCrash {

    static final int HALTED = 77;

    private H2UpgradeCrash() {
    }

    public static void main(String[] args) throws Exception {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(args[0]);
        String point = args[1];
        Callback halt = new Callback() {
            private int statements;

            @Override
            public boolean supports(Event event, Context context) {
                return event == Event.AFTER_EACH_MIGRATE_STATEMENT || event == Event.AFTER_MIGRATE;
            }

            @Override
            public boolean canHandleInTransaction(Event event, Context context) {
                return true;
            }

            @Override
            public void handle(Event event, Context context) {
                if (point.equals("done") && event == Event.AFTER_MIGRATE) {
                    Runtime.getRuntime().halt(HALTED);
                }
                if (event == Event.AFTER_EACH_MIGRATE_STATEMENT) {
                    String[] vn = point.split(":");
                    if (vn.length == 2 && context.getMigrationInfo().getVersion().getVersion().equals(vn[0])
                            && ++statements == Integer.parseInt(vn[1])) {
                        Runtime.getRuntime().halt(HALTED);
                    }
                }
            }

            @Override
            public String getCallbackName() {
                return "halt at " + point;
            }
        };
        new H2SchemaUpgrade(ds).migrate(DatabaseMigrations.configuration(ds, "h2").callbacks(halt).load());
    }
}
