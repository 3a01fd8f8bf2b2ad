package org.flserver.model;

import jakarta.annotation.Resource;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.flserver.platform.DataSourceConfig;

/**
 * Which stored files the database still names: the lookup of the collection of unreferenced files
 * ({@link UnreferencedFiles}). One query over every column that holds the hash of a file the
 * server needs. {@code model_provenance.weights_sha256} is deliberately not among them: it records
 * which update went into an aggregation after the update itself is gone, and keeping those files
 * would keep every local model forever. A new column that names a stored file must be added here
 * ({@code StoredFileReferencesTest} compares this list with the migrations).
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.SUPPORTS)
public class StoredFileReferences {

    /** table.column of every hash that names a file the server reads. */
    static final List<String> COLUMNS = List.of(
            "model.weights_sha256",
            "model.preprocessing_sha256",
            "model.swag_first_moment_sha256",
            "model.swag_second_moment_sha256",
            "model_version.weights_sha256",
            "model_version.optimizer_state_sha256",
            "swag_statistics.first_moment_sha256",
            "swag_statistics.second_moment_sha256");

    /** Hash columns that record what a file was, not that it is needed. */
    static final List<String> NOT_REFERENCES = List.of("model_provenance.weights_sha256");

    @Resource(lookup = DataSourceConfig.JNDI_NAME)
    DataSource dataSource;

    /** The hashes among {@code hashes} that some row names (at most a few hundred at a time). */
    public Set<String> named(List<String> hashes) {
        if (hashes.isEmpty()) {
            return Set.of();
        }
        String in = hashes.stream().map(h -> "?").collect(Collectors.joining(","));
        String sql = COLUMNS.stream().map(tc -> {
            String[] p = tc.split("\\.");
            return "SELECT " + p[1] + " FROM " + p[0] + " WHERE " + p[1] + " IN (" + in + ")";
        }).collect(Collectors.joining(" UNION "));
        Set<String> named = new HashSet<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            int i = 1;
            for (int column = 0; column < COLUMNS.size(); column++) {
                for (String h : hashes) {
                    s.setString(i++, h);
                }
            }
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    named.add(r.getString(1).strip());
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot look up stored files in the database: " + e.getMessage(), e);
        }
        return named;
    }
}
