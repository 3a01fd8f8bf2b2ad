package org.flserver.tensor;

/**
 * Two weight files are each valid but cannot be combined: different kinds or different
 * architectures. The message names the first differing tensor (or record).
 */
public class IncompatibleWeightsException extends WeightFileException {
    private static final long serialVersionUID = 1L;

    public IncompatibleWeightsException(String message) {
        super(message);
    }
}
