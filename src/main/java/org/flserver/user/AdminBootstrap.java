package org.flserver.user;

import jakarta.annotation.PostConstruct;
import jakarta.ejb.DependsOn;
import jakarta.ejb.EJB;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Creates the first administrator from configuration ({@code FL_ADMIN_USERNAME},
 * {@code FL_ADMIN_PASSWORD}) when the server starts, so an operator can log in to {@code /admin/}
 * on a fresh installation. With no such configuration nothing happens.
 */
@Singleton
@Startup
@DependsOn("DatabaseMigrations")
public class AdminBootstrap {

    private static final Logger LOG = Logger.getLogger(AdminBootstrap.class.getName());

    @EJB
    UserService users;

    @Inject
    @ConfigProperty(name = "fl.admin.username")
    Optional<String> username;

    @Inject
    @ConfigProperty(name = "fl.admin.password")
    Optional<String> password;

    @PostConstruct
    void ensureAdministrator() {
        if (username.isEmpty() || username.get().isBlank() || password.isEmpty() || password.get().isEmpty()) {
            return;
        }
        users.ensureSuperuser(username.get(), password.get());
        LOG.info(() -> "administrator '" + username.get() + "' is ready");
    }
}
