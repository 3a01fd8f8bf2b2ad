package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;

/**
 * Every column of the schema that holds a file's hash is either one the collection of unreferenced
 * files looks up ({@link StoredFileReferences#COLUMNS}) or one it deliberately ignores: a migration
 * that adds such a column without saying which would let the collection delete files still in use.
 */
class StoredFileReferencesTest {

    private static final Path MIGRATIONS = Path.of("src", "main", "resources", "db", "migration");
    private static final Pattern CREATE = Pattern.compile("CREATE TABLE (\\w+)\\s*\\((.*?)\\n\\);", Pattern.DOTALL);
    private static final Pattern COLUMN = Pattern.compile("^\\s*(\\w+_sha256)\\s", Pattern.MULTILINE);
    private static final Pattern ADD = Pattern.compile("ALTER TABLE (\\w+) ADD COLUMN (\\w+_sha256)\\s");

    /** The lookup's one query on the embedded database's schema (PostgreSQL's: StoredFileCollectionIT). */
    @Test
    void findsTheHashesThatRowsNameOnH2() throws Exception {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL("jdbc:h2:mem:references;DB_CLOSE_DELAY=-1;MODE=LEGACY");
        Flyway.configure().dataSource(ds).locations("classpath:db/migration/h2").load().migrate();
        String weights = "a".repeat(64);
        String version = "b".repeat(64);
        String moment = "c".repeat(64);
        String provenanceOnly = "d".repeat(64);
        String nowhere = "e".repeat(64);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO fl_user (id, username, password_hash, token, date_joined) VALUES"
                    + " ('u1', 'u', 'h', '" + "0".repeat(40) + "', CURRENT_TIMESTAMP)");
            st.execute("INSERT INTO model (id, model_type, owner_id, created_at, weights_sha256, swag_second_moment_sha256)"
                    + " VALUES ('m1', 'GLOBAL', 'u1', CURRENT_TIMESTAMP, '" + weights + "', '" + moment + "')");
            st.execute("INSERT INTO model_version (model_id, round, weights_sha256, weights_size, created_at)"
                    + " VALUES ('m1', 1, '" + version + "', 1, CURRENT_TIMESTAMP)");
            st.execute("INSERT INTO model_provenance (version_id, kind, local_model_id, owner_username, update_round,"
                    + " sample_size, weight, weights_sha256) SELECT id, 'MODEL', 'l1', 'u', 0, 1, 1.0, '"
                    + provenanceOnly + "' FROM model_version");
        }
        StoredFileReferences references = new StoredFileReferences();
        references.dataSource = ds;

        assertEquals(Set.of(weights, version, moment),
                references.named(List.of(weights, version, moment, provenanceOnly, nowhere)));
        assertEquals(Set.of(), references.named(List.of()));
    }

    @Test
    void everyHashColumnOfBothSchemasIsAccountedFor() throws IOException {
        for (String vendor : new String[] {"postgresql", "h2"}) {
            Set<String> columns = new TreeSet<>();
            try (Stream<Path> files = Files.list(MIGRATIONS.resolve(vendor))) {
                for (Path f : files.sorted().toList()) {
                    String sql = Files.readString(f).replaceAll("--[^\\n]*", "");
                    Matcher t = CREATE.matcher(sql);
                    while (t.find()) {
                        Matcher c = COLUMN.matcher(t.group(2));
                        while (c.find()) {
                            columns.add(t.group(1) + "." + c.group(1));
                        }
                    }
                    Matcher a = ADD.matcher(sql);
                    while (a.find()) {
                        columns.add(a.group(1) + "." + a.group(2));
                    }
                }
            }
            Set<String> accounted = new TreeSet<>(StoredFileReferences.COLUMNS);
            accounted.addAll(StoredFileReferences.NOT_REFERENCES);
            assertEquals(accounted, columns, vendor);
        }
    }
}
