package org.flserver.tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What must be equal for two weight files to be averaged into one: the kind, the ordered tensor
 * table, the storage table and, for pickled modules and TorchScript, a digest of the non-tensor
 * object structure and of the code.
 *
 * <p>It exists because "same architecture" must never be decided by comparing pickle bytes: two
 * identical models can pickle differently (memo sharing, protocol, torch version). The tables come
 * from the parsed file instead. Storage locations ({@code cpu}/{@code cuda:0}) and byte offsets in
 * the file are deliberately left out; they do not change what the numbers mean.
 */
public final class ArchitectureFingerprint {

    /** One storage as far as compatibility is concerned. */
    public record StorageShape(String key, DType dtype, long numel) {
    }

    private final FormatKind kind;
    private final List<TensorInfo> tensors;
    private final List<StorageShape> storages;
    private final String structureDigest;
    private final String codeDigest;

    private ArchitectureFingerprint(FormatKind kind, List<TensorInfo> tensors, List<StorageShape> storages,
                                    String structureDigest, String codeDigest) {
        this.kind = kind;
        this.tensors = List.copyOf(tensors);
        this.storages = List.copyOf(storages);
        this.structureDigest = structureDigest;
        this.codeDigest = codeDigest;
    }

    /**
     * Builds the fingerprint of a file's tables.
     *
     * @param structureDigest digest of the non-tensor object tree, or "" when the format has none
     * @param codeDigest      digest of the TorchScript code records, or "" when there are none
     */
    public static ArchitectureFingerprint of(FormatKind kind, List<TensorInfo> tensors, List<StorageInfo> storages,
                                             String structureDigest, String codeDigest) {
        List<TensorInfo> t = new ArrayList<>(tensors);
        List<StorageShape> s = new ArrayList<>();
        for (StorageInfo st : storages) {
            s.add(new StorageShape(st.key(), st.dtype(), st.numel()));
        }
        if (kind == FormatKind.SAFETENSORS) {
            // safetensors writers order the header freely; the names, not the order, identify tensors.
            t.sort(Comparator.comparing(TensorInfo::name));
            s.sort(Comparator.comparing(StorageShape::key));
        }
        return new ArchitectureFingerprint(kind, t, s, structureDigest, codeDigest);
    }

    public FormatKind kind() {
        return kind;
    }

    /**
     * Says why {@code other} cannot be averaged with this one, naming the first differing tensor,
     * or empty when the two are compatible.
     */
    public Optional<String> differenceFrom(ArchitectureFingerprint other) {
        if (kind != other.kind) {
            return Optional.of("different kinds: " + kind.label() + " vs " + other.kind.label());
        }
        int n = Math.min(tensors.size(), other.tensors.size());
        for (int i = 0; i < n; i++) {
            TensorInfo a = tensors.get(i);
            TensorInfo b = other.tensors.get(i);
            if (!a.equals(b)) {
                return Optional.of(describe(a, b));
            }
        }
        if (tensors.size() != other.tensors.size()) {
            TensorInfo extra = tensors.size() > n ? tensors.get(n) : other.tensors.get(n);
            return Optional.of("tensor '" + extra.name() + "' is present in only one file ("
                    + tensors.size() + " vs " + other.tensors.size() + " tensors)");
        }
        int m = Math.min(storages.size(), other.storages.size());
        for (int i = 0; i < m; i++) {
            if (!storages.get(i).equals(other.storages.get(i))) {
                return Optional.of("storage '" + storages.get(i).key() + "' differs: " + storages.get(i)
                        + " vs " + other.storages.get(i));
            }
        }
        if (storages.size() != other.storages.size()) {
            return Optional.of("different number of storages: " + storages.size() + " vs " + other.storages.size());
        }
        if (!structureDigest.equals(other.structureDigest)) {
            return Optional.of("the pickled object structure differs (module classes or non-tensor attributes)");
        }
        if (!codeDigest.equals(other.codeDigest)) {
            return Optional.of("the TorchScript code or constants differ");
        }
        return Optional.empty();
    }

    private static String describe(TensorInfo a, TensorInfo b) {
        if (!a.name().equals(b.name())) {
            return "tensor '" + a.name() + "' differs: the other file has '" + b.name() + "' in its place";
        }
        String what;
        if (a.dtype() != b.dtype()) {
            what = "dtype " + a.dtype().torchName() + " vs " + b.dtype().torchName();
        } else if (!a.shape().equals(b.shape())) {
            what = "shape " + a.shape() + " vs " + b.shape();
        } else if (!a.stride().equals(b.stride())) {
            what = "stride " + a.stride() + " vs " + b.stride();
        } else if (a.storageOffset() != b.storageOffset()) {
            what = "storage offset " + a.storageOffset() + " vs " + b.storageOffset();
        } else if (!a.storageKey().equals(b.storageKey())) {
            what = "storage key " + a.storageKey() + " vs " + b.storageKey();
        } else {
            what = "aliases " + a.aliases() + " vs " + b.aliases();
        }
        return "tensor '" + a.name() + "' differs: " + what;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ArchitectureFingerprint f && differenceFrom(f).isEmpty();
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, tensors, storages, structureDigest, codeDigest);
    }

    @Override
    public String toString() {
        return kind.label() + " fingerprint: " + tensors.size() + " tensors, " + storages.size() + " storages";
    }
}
