package org.flserver.aggregation;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One client's contribution to an average: its weight file and its weight (usually the number of
 * training samples). Weights must be finite and non-negative; a client with weight 0 is read and
 * checked but contributes nothing.
 */
public record WeightedFile(Path path, double weight) {
    public WeightedFile {
        Objects.requireNonNull(path);
        if (!Double.isFinite(weight) || weight < 0) {
            throw new IllegalArgumentException("weight of " + path.getFileName() + " must be finite and >= 0: "
                    + weight);
        }
    }
}
