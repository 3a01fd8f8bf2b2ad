package org.flserver.aggregation;

import org.flserver.tensor.WeightFileException;

import java.nio.file.Path;

/**
 * A client update holds a NaN or an infinity in a floating-point tensor. The robust rules, DP and
 * the checked mean refuse such an update instead of letting the value reach the global model; the
 * message names the file and the tensor and is safe to show to whoever uploaded it.
 */
public final class NonFiniteUpdateException extends WeightFileException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    NonFiniteUpdateException(Path file, String tensor, long element, double value) {
        super(file.getFileName() + ": tensor " + tensor + " holds "
                + (Double.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf")
                + " (element " + element + " of its storage); update refused");
        this.file = file;
        this.tensor = tensor;
    }

    /** The refused client file. */
    public Path file() {
        return file;
    }

    /** The name of the tensor holding the value. */
    public String tensor() {
        return tensor;
    }
}
