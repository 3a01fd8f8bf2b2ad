package org.flserver.training;

import jakarta.annotation.Resource;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.UUID;
import javax.sql.DataSource;
import org.flserver.platform.DataSourceConfig;

/**
 * Writes a training's target from inside {@link TrainingListener}. It joins the caller's transaction
 * (MANDATORY: it must never commit on its own), so the rewrite commits or rolls back with the insert.
 *
 * <p>It writes with JDBC through the application's data source, not with a query of the
 * EntityManager: the listener runs while EclipseLink flushes the INSERT, and a query then made
 * EclipseLink log a warning at every daisy-chain training ("already flushing ... the changes may not
 * be reflected in the results"), true but harmless here and alarming in an operator's log. In the
 * transaction, the container hands out the connection the persistence unit already uses (a
 * shareable connection of the same data source), so the UPDATE sees the uncommitted row; were it
 * another connection, it would find no row, and the creation fails instead of keeping a wrong target.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.MANDATORY)
public class TrainingTargetWriter {

    @Resource(lookup = DataSourceConfig.JNDI_NAME)
    DataSource dataSource;

    public void writeTarget(UUID trainingId, int targetNumUpdates) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement update = c.prepareStatement("UPDATE training SET target_num_updates = ? WHERE id = ?")) {
            update.setInt(1, targetNumUpdates);
            update.setObject(2, trainingId);
            if (update.executeUpdate() != 1) {
                throw new IllegalStateException("training " + trainingId + " not found by its target's rewrite");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("training " + trainingId + ": its target could not be rewritten", e);
        }
    }
}
