package org.flserver.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.MigrationVersion;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The embedded database's schema upgrade when the server dies in the middle of it: the real
 * migrations, Flyway and the H2 version Payara Micro bundles, an upgrade process halted at a
 * statement ({@link H2UpgradeCrash}), then a new start on what it left. The databases are files in a
 * temporary folder, as {@code ./fl-data/db} is for the server.
 */
class H2SchemaUpgradeTest {

    /** The latest migration in src/main/resources/db/migration/h2 (versions are 1, 2, 3, ...). */
    private static final String LATEST = latest();

    private static List<String> freshSchema;

    @TempDir
    Path dir;

    /**
     * A database of the previous version (migrations up to {@code from}, with a user, a model and
     * its version in it) or a new one ({@code from} empty), upgraded by a process that dies at
     * {@code point}; the next start leaves it fully upgraded, with the data, and without a backup.
     */
    @ParameterizedTest(name = "from version ''{0}'', halted at {1}")
    @CsvSource({"5, 6:1", "5, 6:7", "5, done", "'', 3:2"})
    void anUpgradeInterruptedByACrashIsFinishedAtTheNextStart(String from, String point) throws Exception {
        boolean old = !from.isEmpty();
        Path db = old ? databaseWithData(from) : dir.resolve("db");
        assertEquals(H2UpgradeCrash.HALTED, upgradeHaltedAt(db, point));
        assertTrue(Files.exists(backup(db)), "the halted upgrade leaves its backup");
        if (!point.equals("done")) {
            assertHalfApplied(db);
        }

        int applied = new H2SchemaUpgrade(dataSource(db)).migrate(flyway(db).load());

        int pending = old ? Integer.parseInt(LATEST) - Integer.parseInt(from) : Integer.parseInt(LATEST);
        assertEquals(point.equals("done") ? 0 : pending, applied, "migrations applied at the second start");
        assertUpgraded(db);
        if (old) {
            assertDataKept(db);
        }
    }

    /** A restore that dies too (after dropping everything) is done again at the next start. */
    @Test
    void aRestoreInterruptedByACrashIsDoneAgain() throws Exception {
        Path db = databaseWithData("5");
        assertEquals(H2UpgradeCrash.HALTED, upgradeHaltedAt(db, "6:3"));
        execute(db, "DROP ALL OBJECTS"); // where a restore that died after its first statement leaves the database

        assertEquals(1, new H2SchemaUpgrade(dataSource(db)).migrate(flyway(db).load()));
        assertUpgraded(db);
        assertDataKept(db);
    }

    /**
     * A migration that fails (here a test migration V7 whose second statement names no table) leaves
     * the database as it was before the upgrade, not half upgraded with a failed history row.
     */
    @Test
    void aFailedUpgradeLeavesTheDatabaseAsItWas() throws Exception {
        Path db = databaseWithData(LATEST);
        List<String> before = schema(db);
        Flyway failing = flyway(db).locations("classpath:db/migration/h2", "classpath:db/failing-migration").load();

        FlywayException e = assertThrows(FlywayException.class, () -> new H2SchemaUpgrade(dataSource(db)).migrate(failing));

        assertTrue(e.getMessage().contains("NO_SUCH_TABLE"), e.getMessage());
        assertSameSchema(before, schema(db));
        assertUpgraded(db);
        assertDataKept(db);
    }

    /** A backup without fl-server's last line is no backup fl-server finished: it is not restored. */
    @Test
    void anIncompleteBackupIsNotRestored() throws Exception {
        Path db = databaseWithData("5");
        Files.writeString(backup(db), "CREATE TABLE junk (a integer);\n");

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new H2SchemaUpgrade(dataSource(db)).migrate(flyway(db).load()));

        assertTrue(e.getMessage().contains(backup(db).getFileName().toString()), e.getMessage());
        assertEquals(MigrationVersion.fromVersion("5"), flyway(db).load().info().current().getVersion(),
                "nothing was dropped or migrated");
        assertDataKept(db);
        assertTrue(Files.exists(backup(db)), "the file stays for the operator");
    }

    @Test
    void anInMemoryDatabaseIsMigratedWithoutABackup() throws Exception {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:mem:upgrade-test;DB_CLOSE_DELAY=-1;MODE=LEGACY");
        try (Connection keepOpen = ds.getConnection()) {
            assertEquals(Integer.parseInt(LATEST),
                    new H2SchemaUpgrade(ds).migrate(DatabaseMigrations.configuration(ds, "h2").load()));
            assertEquals(LATEST, DatabaseMigrations.configuration(ds, "h2").load().info().current().getVersion().getVersion());
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "no file written");
        }
    }

    @Test
    void theLastLineNamesTheTargetVersion() throws Exception {
        Path f = dir.resolve("b.sql");
        Files.writeString(f, "CREATE TABLE a (b integer);\n\n" + H2SchemaUpgrade.COMPLETE + "12.1\n");
        assertEquals(MigrationVersion.fromVersion("12.1"), H2SchemaUpgrade.completeTarget(f));
        Files.writeString(f, "CREATE TABLE a (b integer);\n\n" + H2SchemaUpgrade.COMPLETE + "12.1");
        assertEquals(null, H2SchemaUpgrade.completeTarget(f), "cut off before its line break");
        Files.writeString(f, "CREATE TABLE a (b integer);\n" + H2SchemaUpgrade.COMPLETE + "x y\n");
        assertEquals(null, H2SchemaUpgrade.completeTarget(f), "no version");
        Files.writeString(f, "");
        assertEquals(null, H2SchemaUpgrade.completeTarget(f), "empty");
    }

    // --- helpers

    /**
     * The server's H2 URL, with {@code WRITE_DELAY=0} so that a halted process leaves exactly what it
     * committed up to its halt: with H2's default delay (500 ms) it may lose the last commits, which
     * leaves an earlier state of the same kinds (the test of a halt after the upgrade then finds a
     * database not yet upgraded), not the one the test means to produce.
     */
    private static String url(Path db) {
        return "jdbc:h2:" + db.resolve("fl").toAbsolutePath() + ";MODE=LEGACY;WRITE_DELAY=0";
    }

    private static JdbcDataSource dataSource(Path db) {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(url(db));
        return ds;
    }

    private static org.flywaydb.core.api.configuration.FluentConfiguration flyway(Path db) {
        return DatabaseMigrations.configuration(dataSource(db), "h2");
    }

    private static Path backup(Path db) {
        return db.resolve("fl" + H2SchemaUpgrade.BACKUP_SUFFIX).toAbsolutePath();
    }

    private int upgradeHaltedAt(Path db, String point) throws Exception {
        Path log = dir.resolve("halted-" + point.replace(':', '-') + ".log");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), H2UpgradeCrash.class.getName(), url(db), point)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the upgrade process did not end: " + Files.readString(log));
        }
        assertNotEquals(0, p.exitValue(), "the upgrade passed " + point + " without halting: " + Files.readString(log));
        return p.exitValue();
    }

    /** What the halted process left: Flyway alone, without {@link H2SchemaUpgrade}, cannot start on it. */
    private void assertHalfApplied(Path db) throws Exception {
        Path copy = dir.resolve("copy");
        Files.createDirectories(copy);
        Files.copy(db.resolve("fl.mv.db"), copy.resolve("fl.mv.db"));
        Flyway plain = flyway(copy).load();
        FlywayException e = assertThrows(FlywayException.class, plain::migrate);
        assertTrue(e.getMessage().contains("already exists") || e.getMessage().contains("Duplicate column name"),
                e.getMessage());
    }

    /** At the latest version, every migration successful, the same schema as a new database, no backup left. */
    private void assertUpgraded(Path db) throws Exception {
        MigrationInfoService info = flyway(db).load().info();
        for (MigrationInfo m : info.applied()) {
            assertTrue(m.getState().isApplied() && !m.getState().isFailed(), m.getVersion() + " " + m.getState());
        }
        assertEquals(LATEST, info.current().getVersion().getVersion());
        assertSameSchema(freshSchema(), schema(db));
        assertFalse(Files.exists(backup(db)), "backup deleted");
        assertFalse(Files.exists(backup(db).resolveSibling(backup(db).getFileName() + ".tmp")), "no temporary file");
    }

    private static String latest() {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:mem:latest;MODE=LEGACY");
        MigrationInfo[] all = DatabaseMigrations.configuration(ds, "h2").load().info().all();
        return all[all.length - 1].getVersion().getVersion();
    }

    /** The schema of a new database that Flyway brought to the latest version, computed once. */
    private static synchronized List<String> freshSchema() throws Exception {
        if (freshSchema == null) {
            Path fresh = Files.createTempDirectory("fresh-schema");
            try {
                flyway(fresh).load().migrate();
                freshSchema = schema(fresh);
            } finally {
                try (var files = Files.list(fresh)) {
                    for (Path f : files.toList()) {
                        Files.delete(f);
                    }
                }
                Files.delete(fresh);
            }
        }
        return freshSchema;
    }

    private static void assertSameSchema(List<String> expected, List<String> actual) {
        List<String> missing = new ArrayList<>(expected);
        missing.removeAll(actual);
        List<String> extra = new ArrayList<>(actual);
        extra.removeAll(expected);
        assertEquals(expected, actual, "missing " + missing + ", not expected " + extra);
    }

    /** A database at {@code version} with the rows of {@link #insertData} in it. */
    private Path databaseWithData(String version) throws SQLException {
        Path db = dir.resolve("db");
        flyway(db).target(version).load().migrate();
        insertData(db);
        return db;
    }

    private static void insertData(Path db) throws SQLException {
        String version = "INSERT INTO model_version (model_id, round, weights_sha256, weights_size, created_at)"
                + " VALUES ('m1', %d, REPEAT('a', 64), 10, CURRENT_TIMESTAMP)";
        execute(db, "INSERT INTO fl_user (id, username, password_hash, token, date_joined) VALUES"
                + " ('u1', 'alice', 'h', '0123456789012345678901234567890123456789', CURRENT_TIMESTAMP)",
                "INSERT INTO model (id, model_type, owner_id, created_at) VALUES ('m1', 'GLOBAL', 'u1', CURRENT_TIMESTAMP)",
                String.format(version, 0), String.format(version, 1), String.format(version, 2));
    }

    /** The rows of {@link #insertData} are there, and new rows get identities after theirs. */
    private static void assertDataKept(Path db) throws SQLException {
        assertEquals(List.of("alice"), strings(db, "SELECT username FROM fl_user"));
        assertEquals(List.of("1:0", "2:1", "3:2"), strings(db, "SELECT id || ':' || round FROM model_version ORDER BY id"));
        execute(db, "INSERT INTO model_version (model_id, round, weights_sha256, weights_size, created_at)"
                + " VALUES ('m1', 3, REPEAT('b', 64), 10, CURRENT_TIMESTAMP)");
        assertEquals(List.of("4"), strings(db, "SELECT id FROM model_version WHERE round = 3"));
    }

    /** Tables, columns (type, nullability, default), constraints and indexes of the PUBLIC schema. */
    private static List<String> schema(Path db) throws SQLException {
        // indexes by what they index: H2 names the indexes of constraints itself, differently when the
        // tables are created by a script, where a foreign key also uses an index of the same columns
        // that the migration created instead of one of its own; and the migrations' own index names
        List<String> s = strings(db, "SELECT table_name || '.' || column_name || ' ' || data_type || ' '"
                + " || is_nullable || ' ' || COALESCE(column_default, '-') FROM information_schema.columns"
                + " WHERE table_schema = 'PUBLIC' ORDER BY table_name, ordinal_position",
                "SELECT table_name || ' ' || constraint_type || ' ' || constraint_name"
                + " FROM information_schema.table_constraints WHERE table_schema = 'PUBLIC' ORDER BY 1",
                "SELECT table_name || ' ' || index_name FROM information_schema.indexes"
                + " WHERE table_schema = 'PUBLIC' AND index_name NOT LIKE 'CONSTRAINT%'"
                + " AND index_name NOT LIKE 'PRIMARY_KEY%' AND index_name NOT LIKE '%_INDEX_%'",
                "SELECT DISTINCT i.table_name || ' ' || i.index_type_name || ' ' || LISTAGG(c.column_name, ',')"
                + " WITHIN GROUP (ORDER BY c.ordinal_position) FROM information_schema.indexes i"
                + " JOIN information_schema.index_columns c ON c.index_schema = i.index_schema AND c.index_name = i.index_name"
                + " WHERE i.table_schema = 'PUBLIC' GROUP BY i.table_name, i.index_name, i.index_type_name ORDER BY 1");
        s.sort(null); // the same elements, in the order of their names (H2 lists constraints of equal names in any order)
        return s;
    }

    /**
     * The first column of every row of the queries, in order, over one connection (H2 opens the
     * database file with the first connection and closes it with the last: once per call).
     */
    private static List<String> strings(Path db, String... queries) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = dataSource(db).getConnection(); Statement st = c.createStatement()) {
            for (String sql : queries) {
                try (ResultSet r = st.executeQuery(sql)) {
                    while (r.next()) {
                        out.add(r.getString(1));
                    }
                }
            }
        }
        return out;
    }

    /** The statements, in order, over one connection. */
    private static void execute(Path db, String... statements) throws SQLException {
        try (Connection c = dataSource(db).getConnection(); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        }
    }
}
