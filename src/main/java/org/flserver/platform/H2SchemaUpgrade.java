package org.flserver.platform;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.MigrationVersion;

/**
 * Makes a schema upgrade of the embedded H2 database take effect wholly or not at all, as it does on
 * PostgreSQL. H2 commits every DDL statement on its own, so Flyway cannot wrap a migration in one
 * transaction there: a crash in the middle of a migration of several statements would leave it half
 * applied and unrecorded, and every later start would fail on the statements already applied
 * ("table already exists") until someone repaired the database by hand.
 *
 * <p>So before Flyway applies anything, the whole database is written as an SQL script beside its
 * files ({@code <database>.before-upgrade.sql}, H2's {@code SCRIPT}): written under a temporary name,
 * ended by a line naming the version the upgrade goes to, flushed to disk and then renamed, so the
 * script exists only complete. After the upgrade it is deleted (and the deletion flushed). A start
 * that finds the script looks at the database's schema history: if it has not reached the script's
 * version (the upgrade was interrupted, or failed), everything is dropped and the script run
 * ({@code RUNSCRIPT}), which gives back the database as it was before the upgrade, and the upgrade
 * runs again. If it has (the crash came after the upgrade, before the deletion), the script is only
 * deleted: a backup is never restored over a finished upgrade. A crash during the restore leaves the
 * script in place, and the next start restores again.
 *
 * <p>Nothing else uses the database meanwhile: the migrations run at deployment before any request
 * is served and before the other start-up beans ({@link DatabaseMigrations}). An in-memory H2
 * database has no files to protect and is migrated directly. The script holds the metadata only
 * (users, trainings, rounds, notifications): the model files live outside the database.
 */
final class H2SchemaUpgrade {

    /** Appended to the database path (H2's {@code DATABASE_PATH()}) to name the script. */
    static final String BACKUP_SUFFIX = ".before-upgrade.sql";
    /** The script's last line: written only after H2 finished the script; followed by the target version. */
    static final String COMPLETE = "-- fl-server: complete backup before the upgrade to version ";

    private static final Logger LOG = Logger.getLogger(H2SchemaUpgrade.class.getName());

    private final DataSource dataSource;

    H2SchemaUpgrade(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Brings the schema to the latest migration with {@code flyway} (configured for this data source)
     * and returns the number of migrations applied now.
     */
    int migrate(Flyway flyway) throws SQLException, IOException {
        Path backup = backupPath();
        if (backup == null) {
            return flyway.migrate().migrationsExecuted;
        }
        Files.deleteIfExists(temporary(backup)); // a script a crash cut short: never complete, never used
        if (Files.exists(backup)) {
            finishInterrupted(flyway, backup);
        }
        MigrationInfo[] pending = flyway.info().pending();
        if (pending.length == 0) {
            return flyway.migrate().migrationsExecuted; // validates; applies nothing
        }
        MigrationVersion target = pending[pending.length - 1].getVersion();
        write(backup, target);
        int applied;
        try {
            applied = flyway.migrate().migrationsExecuted;
        } catch (FlywayException e) {
            // Flyway stopped in the middle of a migration: put the database back as it was, so that
            // it is not left half upgraded while someone looks into the failure. If that fails too,
            // the script stays and the next start restores it.
            try {
                restore(backup);
                delete(backup);
            } catch (SQLException | IOException | RuntimeException notRestored) {
                e.addSuppressed(notRestored);
            }
            throw e;
        }
        delete(backup);
        return applied;
    }

    /** A script of a previous start exists: restore it unless that upgrade finished, then delete it. */
    private void finishInterrupted(Flyway flyway, Path backup) throws SQLException, IOException {
        MigrationVersion target = completeTarget(backup);
        if (target == null) {
            throw new IllegalStateException(backup + " is not a complete backup of this fl-server (its last"
                    + " line is not the one fl-server writes); it was not restored. Restore the database from"
                    + " it or from a backup of your own, or move it away if the database is intact, then"
                    + " start again");
        }
        if (reached(flyway.info(), target)) {
            LOG.info(() -> "the schema upgrade to version " + target + " had finished; deleting its backup " + backup);
        } else {
            LOG.warning(() -> "the schema upgrade to version " + target + " was interrupted; restoring the"
                    + " database as it was before it from " + backup + " and upgrading again");
            restore(backup);
        }
        delete(backup);
    }

    /** Whether the history shows every applied migration successful and {@code target} reached. */
    private static boolean reached(MigrationInfoService info, MigrationVersion target) {
        for (MigrationInfo m : info.applied()) {
            if (m.getState().isFailed()) {
                return false;
            }
        }
        MigrationInfo current = info.current();
        return current != null && current.getVersion() != null && current.getVersion().compareTo(target) >= 0;
    }

    /** The script's place beside the database files, or null for an in-memory database. */
    private Path backupPath() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT DATABASE_PATH()")) {
            String path = r.next() ? r.getString(1) : null;
            return path == null ? null : Path.of(path + BACKUP_SUFFIX).toAbsolutePath();
        }
    }

    private void write(Path backup, MigrationVersion target) throws SQLException, IOException {
        Path temp = temporary(backup);
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("SCRIPT TO " + literal(temp));
        }
        try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer line = ByteBuffer.wrap(("\n" + COMPLETE + target + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) {
                out.write(line);
            }
            out.force(true);
        }
        Files.move(temp, backup, StandardCopyOption.ATOMIC_MOVE);
        flushDirectory(backup.getParent());
        LOG.info(() -> "upgrading the database schema to version " + target + "; until that is done, " + backup
                + " holds the database as it was");
    }

    private static Path temporary(Path backup) {
        return backup.resolveSibling(backup.getFileName() + ".tmp");
    }

    private void restore(Path backup) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("DROP ALL OBJECTS");
            s.execute("RUNSCRIPT FROM " + literal(backup));
        }
    }

    private static void delete(Path backup) throws IOException {
        Files.delete(backup);
        flushDirectory(backup.getParent());
    }

    /**
     * Makes a rename or deletion in {@code directory} survive a power loss (POSIX: fsync of the
     * directory). The same as the tensor library's {@code DurableMove.flushDirectory} does for model
     * files, written again on purpose: both packages are at the bottom of the layering
     * (LayeringTest), so neither may use the other. Where a directory cannot be opened as a file
     * (Windows), its entries are durable without it.
     */
    private static void flushDirectory(Path directory) throws IOException {
        FileChannel dir;
        try {
            dir = FileChannel.open(directory, StandardOpenOption.READ);
        } catch (AccessDeniedException | UnsupportedOperationException cannotOpenDirectories) {
            return; // Windows: a directory is no file to open, and a rename there is durable without it
        }
        try (dir) {
            dir.force(true);
        }
    }

    /** The version named by the script's last line, or null when the line is not there. */
    static MigrationVersion completeTarget(Path backup) throws IOException {
        try (FileChannel in = FileChannel.open(backup, StandardOpenOption.READ)) {
            long size = in.size();
            int tail = (int) Math.min(size, 256);
            ByteBuffer b = ByteBuffer.allocate(tail);
            while (b.hasRemaining() && in.read(b, size - tail + b.position()) > 0) {
                // positional reads until the tail is in
            }
            String end = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
            int at = end.lastIndexOf("\n" + COMPLETE);
            if (at < 0 || !end.endsWith("\n")) {
                return null;
            }
            String version = end.substring(at + 1 + COMPLETE.length(), end.length() - 1);
            try {
                return MigrationVersion.fromVersion(version);
            } catch (FlywayException | IllegalArgumentException notAVersion) {
                return null;
            }
        }
    }

    /** An SQL string literal of a path (quotes doubled). */
    private static String literal(Path p) {
        return "'" + p.toString().replace("'", "''") + "'";
    }
}
