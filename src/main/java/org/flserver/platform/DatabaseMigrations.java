package org.flserver.platform;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.Resource;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;

/**
 * Brings the schema to the current version at deployment, before any request is served. The schema
 * is only ever changed by the versioned SQL files under {@code db/migration/<vendor>} (one folder per
 * database, because PostgreSQL gets {@code jsonb} and {@code uuid} columns that H2 does not have);
 * JPA never generates tables. Runs outside a JTA transaction: Flyway commits each migration itself.
 * On PostgreSQL each migration is one transaction; on H2, which commits DDL statement by statement,
 * {@link H2SchemaUpgrade} makes the upgrade all or nothing.
 */
@Singleton
@Startup
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
public class DatabaseMigrations {

    private static final Logger LOG = Logger.getLogger(DatabaseMigrations.class.getName());

    @Resource(lookup = DataSourceConfig.JNDI_NAME)
    DataSource dataSource;

    @PostConstruct
    void migrate() {
        String vendor = vendor();
        Flyway flyway = configuration(dataSource, vendor).load();
        int applied;
        try {
            applied = vendor.equals("h2") ? new H2SchemaUpgrade(dataSource).migrate(flyway) : flyway.migrate().migrationsExecuted;
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("the schema upgrade of the embedded database failed: " + e.getMessage(), e);
        }
        LOG.info(() -> vendor + " database schema ready (" + applied + " migrations applied now)");
    }

    /** {@code postgresql} or {@code h2} for a JDBC database product name, null for any other database. */
    static String vendor(String productName) {
        String product = productName.toLowerCase(Locale.ROOT);
        return product.contains("postgres") ? "postgresql" : product.contains("h2") ? "h2" : null;
    }

    /** Flyway with the migrations of {@code vendor} ({@code postgresql} or {@code h2}) for this data source. */
    static FluentConfiguration configuration(DataSource dataSource, String vendor) {
        return Flyway.configure(DatabaseMigrations.class.getClassLoader())
                .dataSource(dataSource)
                .locations("classpath:db/migration/" + vendor)
                .failOnMissingLocations(true);
    }

    /** The migration folder for the connected database: {@code postgresql} or {@code h2}. */
    private String vendor() {
        try (Connection connection = dataSource.getConnection()) {
            String product = connection.getMetaData().getDatabaseProductName();
            String vendor = vendor(product);
            if (vendor == null) {
                throw new IllegalStateException("unsupported database: " + product + " (use PostgreSQL or H2)");
            }
            return vendor;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot reach the database: " + e.getMessage(), e);
        }
    }
}
