package org.flserver.tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What a weight file says about its model's parameters and submodules, in the terms of
 * {@code torchinfo.summary}: which tensors are parameters (and trainable) rather than buffers, and
 * the submodules in {@code named_modules()} order with their class names. The metadata route reports
 * it instead of running the model, which fl-server never does.
 *
 * <p>How much a file tells depends on its kind. A pickled module names every submodule's
 * {@code _parameters} and {@code _buffers}; a TorchScript archive declares them in its class code
 * ({@code __parameters__}, {@code __buffers__}); both record {@code requires_grad}. A state_dict or
 * safetensors file is a flat table of tensors, so there the roles are {@linkplain #inferred inferred}
 * from dtype and name, and there are no submodules.
 */
public final class ModuleSummary {

    /** What one tensor of the file is. */
    public enum Role {
        /** A parameter with {@code requires_grad=True}. */
        TRAINABLE_PARAMETER,
        /** A parameter with {@code requires_grad=False}. */
        FROZEN_PARAMETER,
        /** A buffer or any other tensor: not counted as a parameter. */
        OTHER;

        public boolean isParameter() {
            return this != OTHER;
        }
    }

    /** Buffer names of torch's own layers that a flat tensor table cannot otherwise tell from parameters. */
    private static final Set<String> KNOWN_BUFFERS = Set.of("running_mean", "running_var", "num_batches_tracked");

    /**
     * A module's {@code kernel_size} attribute as torchinfo reports it: an int, or a list of ints.
     *
     * @param sizes  the sizes (one for an int)
     * @param scalar whether the attribute was a single int
     */
    public record KernelSize(List<Long> sizes, boolean scalar) {
        public KernelSize {
            sizes = List.copyOf(sizes);
        }
    }

    /**
     * One submodule, as {@code named_modules()} lists it (each module object once, parents first).
     *
     * @param path       dotted attribute path from the root ({@code ""} for the root itself)
     * @param className  the class's own name, without its module ({@code Linear})
     * @param depth      0 for the root, 1 for its children, …
     * @param leaf       whether it has no submodules
     * @param kernelSize its {@code kernel_size} attribute, or null
     * @param parameters names (in {@link WeightFile#tensors()}) of the parameters its {@code parameters()}
     *                   yields: its own and its submodules', each once
     */
    public record Module(String path, String className, int depth, boolean leaf, KernelSize kernelSize,
                         List<String> parameters) {
        public Module {
            Objects.requireNonNull(path);
            Objects.requireNonNull(className);
            parameters = List.copyOf(parameters);
        }
    }

    /** Counts over a set of parameters. */
    public record Counts(long params, long trainable, long bytes) {
        public long nonTrainable() {
            return params - trainable;
        }
    }

    private final Map<String, Role> roles;
    private final List<Module> modules;
    private final boolean inferred;

    /**
     * @param roles    the role of every tensor, by its name in the tensor table; missing names are {@link Role#OTHER}
     * @param modules  the submodules, or null when the file names none (or too many to list)
     * @param inferred whether the roles were guessed rather than read from the file
     */
    public ModuleSummary(Map<String, Role> roles, List<Module> modules, boolean inferred) {
        this.roles = Map.copyOf(roles);
        this.modules = modules == null ? null : List.copyOf(modules);
        this.inferred = inferred;
    }

    /**
     * The roles a flat tensor table suggests: floating-point tensors are trainable parameters, except
     * the buffers torch's layers name {@code running_mean}, {@code running_var} and
     * {@code num_batches_tracked}; everything else is a buffer. No submodules.
     */
    public static ModuleSummary inferred(List<TensorInfo> tensors) {
        Map<String, Role> roles = new HashMap<>();
        for (TensorInfo t : tensors) {
            String last = t.name().substring(t.name().lastIndexOf('.') + 1);
            boolean parameter = t.dtype().isFloatingPoint() && !KNOWN_BUFFERS.contains(last);
            roles.put(t.name(), parameter ? Role.TRAINABLE_PARAMETER : Role.OTHER);
        }
        return new ModuleSummary(roles, null, true);
    }

    public Role role(String tensorName) {
        return roles.getOrDefault(tensorName, Role.OTHER);
    }

    /** The submodules in {@code named_modules()} order; empty when the file names none. */
    public Optional<List<Module>> modules() {
        return Optional.ofNullable(modules);
    }

    /** Whether the parameter roles are guessed from dtypes and names (state_dict, safetensors). */
    public boolean inferred() {
        return inferred;
    }

    /** Totals over every parameter of the file. */
    public Counts totals(List<TensorInfo> tensors) {
        List<String> all = new ArrayList<>();
        for (TensorInfo t : tensors) {
            all.add(t.name());
        }
        return count(index(tensors), all);
    }

    /** The counts of each of {@link #modules()}, in that order (its subtree's parameters); empty without modules. */
    public List<Counts> moduleCounts(List<TensorInfo> tensors) {
        if (modules == null) {
            return List.of();
        }
        Map<String, TensorInfo> byName = index(tensors);
        List<Counts> out = new ArrayList<>(modules.size());
        for (Module m : modules) {
            out.add(count(byName, m.parameters()));
        }
        return out;
    }

    private static Map<String, TensorInfo> index(List<TensorInfo> tensors) {
        Map<String, TensorInfo> byName = new HashMap<>();
        for (TensorInfo t : tensors) {
            byName.putIfAbsent(t.name(), t);
        }
        return byName;
    }

    /**
     * Counts over the named parameters (others are ignored). A parameter counts once even when it
     * is reached under several names or, in a flat table, when two names are views of the same
     * storage bytes (tied weights in a state_dict): torchinfo counts each parameter object once.
     */
    private Counts count(Map<String, TensorInfo> byName, List<String> names) {
        Set<List<Object>> views = new HashSet<>();
        long params = 0;
        long trainable = 0;
        long bytes = 0;
        for (String name : names) {
            TensorInfo t = byName.get(name);
            Role role = role(name);
            if (t == null || !role.isParameter()
                    || !views.add(List.of(t.storageKey(), t.storageOffset(), t.shape(), t.stride(), t.dtype()))) {
                continue;
            }
            long numel = t.numel();
            params = Math.addExact(params, numel);
            bytes = Math.addExact(bytes, Math.multiplyExact(numel, (long) t.dtype().size()));
            if (role == Role.TRAINABLE_PARAMETER) {
                trainable = Math.addExact(trainable, numel);
            }
        }
        return new Counts(params, trainable, bytes);
    }
}
