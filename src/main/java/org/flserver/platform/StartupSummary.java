package org.flserver.platform;

import jakarta.annotation.Resource;
import jakarta.inject.Inject;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import jakarta.servlet.annotation.WebListener;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Says in a few lines at start-up what the operator needs to know: where the API, the admin page,
 * the OpenAPI document and the health checks are, which database and data directory are in use,
 * and how inference runs. The run command turns the server's own INFO logging down (its
 * start-up would otherwise be some 600 lines), so this is the one place that answers these
 * questions.
 *
 * <p>The paths are relative to the server's root URL: the application cannot know the host name
 * and port it is reached by before the first request (Payara Micro prints them in its URL list).
 */
@WebListener
public class StartupSummary implements ServletContextListener {

    private static final Logger LOG = Logger.getLogger(StartupSummary.class.getName());

    /** {@code password=...} among a JDBC URL's {@code ;}-separated settings (H2: an {@code &} is part of the value). */
    private static final Pattern PASSWORD_SETTING = Pattern.compile("(?i)(password=)[^;]*");

    /** {@code password=...} in a JDBC URL's query ({@code ?user=fl&password=x}, PostgreSQL). */
    private static final Pattern PASSWORD_QUERY_PARAMETER = Pattern.compile("(?i)(password=)[^;&]*");

    /** The password of user information in a JDBC URL ({@code //user:secret@host}). */
    private static final Pattern USER_INFO_PASSWORD = Pattern.compile("//([^/:@]*):[^/@]*@");

    /**
     * Said of H2: it keeps commits in memory up to half a second before writing them (README,
     * "Configuration"), so an operator should know it is not the database for production.
     */
    private static final String EMBEDDED_NOTE = " (embedded, for trying fl-server out; production runs on"
            + " PostgreSQL: README, \"Configuration\")";

    @Resource(lookup = DataSourceConfig.JNDI_NAME)
    DataSource dataSource;

    @Inject
    @ConfigProperty(name = "fl.db.url", defaultValue = "jdbc:h2:./fl-data/db/fl;MODE=LEGACY")
    String configuredUrl;

    @Inject
    @ConfigProperty(name = "fl.data.dir", defaultValue = "fl-data")
    String dataDir;

    @Inject
    @ConfigProperty(name = "fl.inference.sandbox", defaultValue = "bwrap")
    String sandbox;

    @Inject
    @ConfigProperty(name = "fl.inference.runtime-dir")
    Optional<String> runtimeDir;

    @Override
    public void contextInitialized(ServletContextEvent event) {
        String root = event.getServletContext().getContextPath();
        LOG.info(() -> "fl-server started; paths below the server's root URL (Payara Micro lists that URL):"
                + "\n  API " + root + "/api/ | admin page " + root + "/admin/ | OpenAPI " + root
                + "/api/schema/ (Swagger UI " + root + "/api/schema/swagger-ui/) | health " + root + "/health"
                + "\n  database: " + database()
                + "\n  data directory: " + Path.of(dataDir).toAbsolutePath().normalize()
                + "\n  inference: " + inference());
    }

    /** Product, version, URL (without password) and user of the connected database. */
    private String database() {
        try (Connection connection = dataSource.getConnection()) {
            DatabaseMetaData meta = connection.getMetaData();
            String product = meta.getDatabaseProductName();
            return product + " " + meta.getDatabaseProductVersion() + " at "
                    + withoutPassword(meta.getURL()) + " as " + meta.getUserName()
                    + ("h2".equals(DatabaseMigrations.vendor(product)) ? EMBEDDED_NOTE : "");
        } catch (SQLException | RuntimeException e) {
            // The schema migrations have reached the database just before; should it be gone again,
            // the summary still says which one is configured, and the next request will say more.
            return withoutPassword(configuredUrl) + " (not reachable now: " + e.getMessage() + ")";
        }
    }

    /** How uploaded TorchScript models are run; the sandbox itself is set up on the first inference. */
    private String inference() {
        if (runtimeDir.isEmpty()) {
            return "off (fl.inference.runtime-dir is not set; README, \"Inference runtime\")";
        }
        return "fl.inference.sandbox=" + sandbox + ", TorchScript runtime from "
                + Path.of(runtimeDir.get()).toAbsolutePath().normalize();
    }

    /** The JDBC URL with any password in it replaced by {@code ***}. */
    static String withoutPassword(String url) {
        if (url == null) {
            return "(unknown URL)";
        }
        Pattern parameter = url.contains("?") ? PASSWORD_QUERY_PARAMETER : PASSWORD_SETTING;
        String noParameter = parameter.matcher(url).replaceAll("$1***");
        return USER_INFO_PASSWORD.matcher(noParameter).replaceAll("//$1:***@");
    }
}
