package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
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
