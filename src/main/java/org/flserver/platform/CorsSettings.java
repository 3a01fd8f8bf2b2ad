package org.flserver.platform;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * This deployment's {@link CorsOrigins}, read once at start-up, so that a setting that cannot be
 * read stops the deployment instead of failing the first browser request.
 */
@ApplicationScoped
public class CorsSettings {

    @Inject
    @ConfigProperty(name = CorsOrigins.PROPERTY)
    Optional<String> setting;

    private CorsOrigins origins;

    @PostConstruct
    void read() {
        try {
            origins = CorsOrigins.parse(setting.orElse(null));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(CorsOrigins.PROPERTY + ": " + e.getMessage(), e);
        }
    }

    void readAtStart(@Observes @Initialized(ApplicationScoped.class) Object started) {
        origins();
    }

    public CorsOrigins origins() {
        return origins;
    }
}
