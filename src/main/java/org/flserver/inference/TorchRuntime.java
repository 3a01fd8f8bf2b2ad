package org.flserver.inference;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The application's one TorchScript backend, started on first use (the first start of libtorch
 * takes seconds) and closed at undeploy, which frees every loaded module: the native engine itself
 * outlives the application (inference.md §5), its modules must not.
 */
@ApplicationScoped
public class TorchRuntime {

    private static final Logger LOG = Logger.getLogger(TorchRuntime.class.getName());

    @Inject
    @ConfigProperty(name = "fl.inference.max-cached-models", defaultValue = "8")
    int maxCachedModels;

    private boolean looked; // guarded by this
    private Optional<TorchBackend> backend = Optional.empty(); // guarded by this
    private String unavailableReason; // guarded by this

    /** The backend, or empty when the runtime is not installed or did not start. */
    public synchronized Optional<TorchBackend> backend() {
        if (!looked) {
            looked = true;
            StringBuilder whyNot = new StringBuilder();
            backend = TorchBackends.find(whyNot, Math.max(1, maxCachedModels));
            if (backend.isEmpty()) {
                unavailableReason = whyNot.toString();
                LOG.info(() -> "inference is unavailable: " + unavailableReason);
            }
        }
        return backend;
    }

    /** Why {@link #backend()} is empty (for a 503's detail), or {@code null} when it is not. */
    public synchronized String unavailableReason() {
        backend();
        return unavailableReason;
    }

    @PreDestroy
    synchronized void close() {
        backend.ifPresent(TorchBackend::close);
        backend = Optional.empty();
    }
}
