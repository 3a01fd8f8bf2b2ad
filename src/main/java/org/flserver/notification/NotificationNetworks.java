package org.flserver.notification;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * This deployment's {@link AllowedNetworks}, read once from {@code fl.notification.allowed-networks}:
 * the one place that both the dispatcher (the check at connect time) and sign-up (refusing
 * endpoints that can never be notified) take them from. A setting that cannot be read stops the
 * deployment, since the dispatcher asks for it when it starts.
 */
@ApplicationScoped
public class NotificationNetworks {

    @Inject
    @ConfigProperty(name = AllowedNetworks.PROPERTY, defaultValue = AllowedNetworks.DEFAULT)
    String setting;

    private AllowedNetworks networks;

    @PostConstruct
    void read() {
        try {
            networks = AllowedNetworks.parse(setting);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(AllowedNetworks.PROPERTY + ": " + e.getMessage(), e);
        }
    }

    public AllowedNetworks allowed() {
        return networks;
    }
}
