package org.flserver.inference;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;

/** Placeholder until the DJL backend lands: the runtime is never available. */
@ApplicationScoped
public class TorchRuntime {

    public Optional<TorchBackend> backend() {
        return Optional.empty();
    }

    public String unavailableReason() {
        return "the inference runtime is not installed";
    }
}
