package org.flserver.inference.sandbox;

/**
 * Inference cannot run on this host as configured; the message says what is missing and is shown
 * to clients in a 503's detail and to the operator in the log.
 */
public class SandboxUnavailable extends Exception {

    private static final long serialVersionUID = 1L;

    public SandboxUnavailable(String message) {
        super(message);
    }
}
