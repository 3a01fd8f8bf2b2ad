package org.flserver.platform;

import jakarta.annotation.sql.DataSourceDefinition;

/**
 * The application's one data source, defined by the application itself so that the WAR needs no
 * server-side setup on Payara (Micro or Server) or WildFly.
 *
 * <p>With nothing configured it is an embedded H2 file database under {@code ./fl-data/db} (H2
 * ships with Payara), which survives restarts. PostgreSQL is chosen by configuration alone
 * (MicroProfile Config: environment variables {@code FL_DB_CLASS}, {@code FL_DB_URL},
 * {@code FL_DB_USER}, {@code FL_DB_PASSWORD} or the matching {@code -Dfl.db.*} properties), with
 * {@code FL_DB_CLASS=org.flserver.platform.PostgresDataSource}. The defaults must be inline in
 * the expressions: they are resolved before any in-WAR configuration file is read.
 *
 * <p>H2 runs in {@code MODE=LEGACY}: EclipseLink 4 reads a generated identity id (groups,
 * metrics, jobs, notifications) with {@code CALL IDENTITY()}, which H2 2.x has only in that mode
 * (eclipse-ee4j/eclipselink#1393). A hand-written H2 URL needs it too.
 */
@DataSourceDefinition(
        name = "java:app/jdbc/fl",
        className = "${MPCONFIG=fl.db.class:org.h2.jdbcx.JdbcDataSource}",
        url = "${MPCONFIG=fl.db.url:jdbc:h2:./fl-data/db/fl;MODE=LEGACY}",
        user = "${MPCONFIG=fl.db.user:sa}",
        password = "${MPCONFIG=fl.db.password:sa}",
        minPoolSize = 2,
        maxPoolSize = 32)
public class DataSourceConfig {

    /** The JNDI name the persistence unit and the migrations use. */
    public static final String JNDI_NAME = "java:app/jdbc/fl";

    private DataSourceConfig() {
    }
}
