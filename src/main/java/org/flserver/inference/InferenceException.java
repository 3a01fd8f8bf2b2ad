package org.flserver.inference;

/**
 * Why an inference request cannot be answered, with the HTTP status it deserves: 400 for what the
 * caller sent (a module that is no TorchScript, an input the module cannot take, a module without
 * the MC-dropout flag), 503 when the runtime is not installed. The message is safe to show to
 * clients: it never carries a native stack trace.
 */
public class InferenceException extends Exception {

    private static final long serialVersionUID = 1L;

    private final int status;

    public InferenceException(int status, String message) {
        super(message);
        this.status = status;
    }

    public InferenceException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
