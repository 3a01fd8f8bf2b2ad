package org.flserver.inference;

import java.nio.file.Path;

/**
 * A TorchScript archive in the model store: its SHA-256 (the cache key — equal content, one loaded
 * module) and where it lies.
 */
public record ModuleFile(String sha256, Path path) {
}
