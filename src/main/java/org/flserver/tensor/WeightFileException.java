package org.flserver.tensor;

import java.io.IOException;

/**
 * A weight file was refused: it is malformed, hostile, of an unsupported kind, or does not fit the
 * other files it is used with. The message says why in one line and is safe to show to the client
 * that uploaded the file.
 *
 * <p>It extends {@link IOException} because it is a problem of the input, found while reading it;
 * callers that must tell "bad upload" from "disk failure" catch this type first.
 */
public class WeightFileException extends IOException {
    private static final long serialVersionUID = 1L;

    public WeightFileException(String message) {
        super(message);
    }

    public WeightFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
