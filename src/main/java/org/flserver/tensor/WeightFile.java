package org.flserver.tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The validated table of contents of one weight file: its kind, every tensor and every storage with
 * its byte range. Nothing of the file's numbers is held; the aggregation reads storages from the
 * file by their offsets.
 *
 * <p>An instance exists only for a file that passed every check, so whoever holds one may read
 * {@code [offset, offset + length)} of each storage without further bounds checks (as long as the
 * file is not changed afterwards; {@link #size()} lets a reader notice that).
 */
public final class WeightFile {
    private final Path path;
    private final FormatKind kind;
    private final long size;
    private final List<TensorInfo> tensors;
    private final List<StorageInfo> storages;
    private final Map<String, String> metadata;
    private final ArchitectureFingerprint fingerprint;
    private final ModuleSummary modules;

    /** A file whose parameters are {@linkplain ModuleSummary#inferred inferred} from its tensor table. */
    public WeightFile(Path path, FormatKind kind, long size, List<TensorInfo> tensors, List<StorageInfo> storages,
                      Map<String, String> metadata, String structureDigest, String codeDigest) {
        this(path, kind, size, tensors, storages, metadata, structureDigest, codeDigest,
                ModuleSummary.inferred(tensors));
    }

    public WeightFile(Path path, FormatKind kind, long size, List<TensorInfo> tensors, List<StorageInfo> storages,
                      Map<String, String> metadata, String structureDigest, String codeDigest,
                      ModuleSummary modules) {
        this.path = Objects.requireNonNull(path);
        this.kind = Objects.requireNonNull(kind);
        this.size = size;
        this.tensors = List.copyOf(tensors);
        this.storages = List.copyOf(storages);
        this.metadata = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.fingerprint = ArchitectureFingerprint.of(kind, tensors, storages, structureDigest, codeDigest);
        this.modules = Objects.requireNonNull(modules);
    }

    public Path path() {
        return path;
    }

    public FormatKind kind() {
        return kind;
    }

    /** File size in bytes when it was read. */
    public long size() {
        return size;
    }

    /** Tensors in the order of the file's object tree (state_dict order) or safetensors header order. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** Storages in first-use order (PyTorch) or header order (safetensors). */
    public List<StorageInfo> storages() {
        return storages;
    }

    public Optional<StorageInfo> storage(String key) {
        for (StorageInfo s : storages) {
            if (s.key().equals(key)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    /**
     * Small text facts of the file: the safetensors {@code __metadata__}, or the PyTorch text records
     * ({@code version}, {@code .data/version}, {@code byteorder}, …).
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Which tensors are parameters, and the submodules, as far as the file tells. */
    public ModuleSummary modules() {
        return modules;
    }

    public ArchitectureFingerprint fingerprint() {
        return fingerprint;
    }

    /**
     * Refuses {@code other} unless it can be averaged with this file.
     *
     * @throws IncompatibleWeightsException naming the first differing tensor
     */
    public void requireCompatible(WeightFile other) throws IncompatibleWeightsException {
        Optional<String> diff = fingerprint.differenceFrom(other.fingerprint);
        if (diff.isPresent()) {
            throw new IncompatibleWeightsException(other.path.getFileName() + " does not match "
                    + path.getFileName() + ": " + diff.get());
        }
    }
}
