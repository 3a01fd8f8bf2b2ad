package org.flserver.tensor.pytorch;

import org.flserver.tensor.FormatKind;
import org.flserver.tensor.ModuleSummary;
import org.flserver.tensor.ModuleSummary.KernelSize;
import org.flserver.tensor.ModuleSummary.Role;
import org.flserver.tensor.pytorch.SymbolicPickle.PyDict;
import org.flserver.tensor.pytorch.SymbolicPickle.PyObject;
import org.flserver.tensor.pytorch.SymbolicPickle.PyTuple;
import org.flserver.tensor.pytorch.SymbolicPickle.TensorNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the {@code nn.Module} structure in a pickle's symbolic object tree, for
 * {@link ModuleSummary}: the submodules in {@code named_modules()} order, which tensors are
 * parameters and whether they are trainable.
 *
 * <p>A {@code torch.save} module pickle holds every module's {@code _parameters}, {@code _buffers}
 * and {@code _modules} dicts in its BUILD state, and each parameter's {@code requires_grad} as the
 * argument of {@code _rebuild_parameter}. A TorchScript {@code data.pkl} holds the modules as objects
 * whose attributes are the tensors and submodules; which attributes are parameters and buffers is
 * declared in the generated class code ({@code __parameters__ = [...]}, {@code __buffers__ = [...]}),
 * read by {@link #declare}; {@code requires_grad} is the tensor record's flag. Anything else (a
 * state_dict, a module pickle whose root is no module) falls back to
 * {@link ModuleSummary#inferred}, unless the tensors were pickled as {@code Parameter}s, which says
 * which ones are parameters.
 *
 * <p>The listing with per-module parameter sets is bounded: past {@link #MAX_MODULES} submodules
 * or {@link #MAX_STEPS} steps, the summary has no submodule list (the totals are still complete).
 */
final class ModuleTree {

    static final int MAX_MODULES = 10_000;
    static final long MAX_STEPS = 5_000_000;
    /** Code records longer than this are not searched for declarations (generated class code is KB). */
    static final int MAX_DECLARATION_RECORD = 4 << 20;

    private static final Pattern CLASS = Pattern.compile("^class ([A-Za-z_][A-Za-z0-9_]*)\\(Module\\):$");
    private static final Pattern NAME_LIST = Pattern.compile("^  (__parameters__|__buffers__) = \\[(.*)]$");
    private static final Pattern QUOTED = Pattern.compile("\"([^\"]*)\"");
    private static final Pattern KERNEL = Pattern.compile("^  kernel_size : Final\\[.*] = (.*)$");
    private static final Pattern INTS = Pattern.compile("\\(?\\s*(\\d{1,18}(\\s*,\\s*\\d{1,18})*)\\s*,?\\s*\\)?");

    /** What a TorchScript module class declares: its parameter and buffer attributes and its kernel size. */
    record Declaration(List<String> parameters, List<String> buffers, KernelSize kernelSize) {
    }

    /** One module object on the way: where it was found and what it holds directly. */
    private record Node(PyObject object, String path, int depth, String className, KernelSize kernelSize,
                        List<TensorNode> parameters, List<Node> children) {
    }

    private final FormatKind kind;
    private final Map<String, Declaration> declarations;
    private final Map<TensorNode, Role> roles = new IdentityHashMap<>();
    private final Map<PyObject, Node> nodes = new IdentityHashMap<>();
    private long steps;

    private ModuleTree(FormatKind kind, Map<String, Declaration> declarations) {
        this.kind = kind;
        this.declarations = declarations;
    }

    /**
     * Reads the module classes a TorchScript code record declares into {@code into}, keyed like the
     * pickle's class globals ({@code __torch__.torch.nn.modules.linear Linear}).
     *
     * @param record the record name below the archive folder, e.g. {@code code/__torch__/torch/nn/modules/linear.py}
     */
    static void declare(String record, byte[] content, Map<String, Declaration> into) {
        if (!record.startsWith("code/") || !record.endsWith(".py") || content.length > MAX_DECLARATION_RECORD) {
            return;
        }
        String module = record.substring("code/".length(), record.length() - ".py".length()).replace('/', '.');
        String cls = null;
        List<String> parameters = List.of();
        List<String> buffers = List.of();
        KernelSize kernel = null;
        for (String line : new String(content, StandardCharsets.UTF_8).split("\n", -1)) {
            Matcher m;
            if ((m = CLASS.matcher(line)).matches() || !line.startsWith(" ") && !line.isEmpty()) {
                if (cls != null) {
                    into.put(module + " " + cls, new Declaration(parameters, buffers, kernel));
                }
                cls = m.matches() ? m.group(1) : null;
                parameters = List.of();
                buffers = List.of();
                kernel = null;
            } else if (cls != null && (m = NAME_LIST.matcher(line)).matches()) {
                List<String> names = new ArrayList<>();
                Matcher q = QUOTED.matcher(m.group(2));
                while (q.find()) {
                    names.add(q.group(1));
                }
                if (m.group(1).equals("__parameters__")) {
                    parameters = names;
                } else {
                    buffers = names;
                }
            } else if (cls != null && (m = KERNEL.matcher(line)).matches()) {
                kernel = kernelSize(m.group(1).strip());
            }
        }
        if (cls != null) {
            into.put(module + " " + cls, new Declaration(parameters, buffers, kernel));
        }
    }

    private static KernelSize kernelSize(String literal) {
        if (!INTS.matcher(literal).matches()) {
            return null;
        }
        List<Long> sizes = new ArrayList<>();
        for (String part : literal.replaceAll("[()\\s]", "").split(",")) {
            if (!part.isEmpty()) {
                sizes.add(Long.parseLong(part));
            }
        }
        return new KernelSize(sizes, !literal.startsWith("("));
    }

    /**
     * The summary of a file whose object tree is {@code root} and whose tensors were named
     * {@code tensors} by {@link ObjectTree}; null when the file does not say which tensors are
     * parameters (then {@link ModuleSummary#inferred} applies). Visits each module object once: the
     * object tree was already walked within {@link ObjectTree}'s bounds, so this cannot refuse a file.
     */
    static ModuleSummary summarize(FormatKind kind, Object root, List<ObjectTree.NamedTensor> tensors,
                                   Map<String, Declaration> declarations) {
        Map<TensorNode, String> names = new IdentityHashMap<>();
        for (ObjectTree.NamedTensor t : tensors) {
            names.put(t.node(), t.name());
        }
        ModuleTree tree = new ModuleTree(kind, declarations);
        if ((kind == FormatKind.MODULE || kind == FormatKind.TORCHSCRIPT) && root instanceof PyObject o
                && tree.isModule(o)) {
            Node top = tree.visit(o, "", 0);
            Map<String, Role> roles = new HashMap<>();
            tree.roles.forEach((node, role) -> roles.put(names.get(node), role));
            return new ModuleSummary(roles, tree.listing(top, names), false);
        }
        boolean pickledParameters = false;
        for (ObjectTree.NamedTensor t : tensors) {
            pickledParameters |= t.node().parameter;
        }
        if (!pickledParameters) {
            return null;
        }
        // A dict of Parameters (state_dict(keep_vars=True)): the file says which tensors are parameters.
        Map<String, Role> roles = new HashMap<>();
        for (ObjectTree.NamedTensor t : tensors) {
            roles.put(t.name(), role(t.node()));
        }
        return new ModuleSummary(roles, null, false);
    }

    private static Role role(TensorNode t) {
        if (!t.parameter) {
            return Role.OTHER;
        }
        return t.requiresGrad ? Role.TRAINABLE_PARAMETER : Role.FROZEN_PARAMETER;
    }

    private boolean isModule(PyObject o) {
        if (!(o.state instanceof PyDict sd)) {
            return false;
        }
        return kind == FormatKind.TORCHSCRIPT ? declarations.containsKey(o.cls.toString())
                : sd.items.get("_modules") instanceof PyDict && sd.items.get("_parameters") instanceof PyDict;
    }

    /** Records a module and its submodules (each object once, like {@code named_modules()}). */
    private Node visit(PyObject o, String path, int depth) {
        PyDict state = (PyDict) o.state;
        List<TensorNode> parameters = new ArrayList<>();
        List<Map.Entry<Object, Object>> children = new ArrayList<>();
        KernelSize kernel;
        if (kind == FormatKind.TORCHSCRIPT) {
            Declaration d = declarations.get(o.cls.toString());
            for (String p : d.parameters()) {
                if (state.items.get(p) instanceof TensorNode t) {
                    parameters.add(t);
                    roles.put(t, t.requiresGrad ? Role.TRAINABLE_PARAMETER : Role.FROZEN_PARAMETER);
                }
            }
            for (Map.Entry<Object, Object> e : state.items.entrySet()) {
                if (e.getValue() instanceof PyObject child && isModule(child)) {
                    children.add(e);
                }
            }
            kernel = d.kernelSize();
        } else {
            for (Object v : ((PyDict) state.items.get("_parameters")).items.values()) {
                if (v instanceof TensorNode t) {
                    parameters.add(t);
                    roles.put(t, t.requiresGrad ? Role.TRAINABLE_PARAMETER : Role.FROZEN_PARAMETER);
                }
            }
            for (Map.Entry<Object, Object> e : ((PyDict) state.items.get("_modules")).items.entrySet()) {
                if (e.getValue() instanceof PyObject child && isModule(child)) {
                    children.add(e);
                }
            }
            kernel = kernelSize(state.items.get("kernel_size"));
        }
        String name = o.cls.name();
        Node node = new Node(o, path, depth, name, kernel, parameters, new ArrayList<>());
        nodes.put(o, node);
        for (Map.Entry<Object, Object> e : children) {
            PyObject child = (PyObject) e.getValue();
            if (!nodes.containsKey(child)) {
                String key = String.valueOf(e.getKey());
                node.children().add(visit(child, path.isEmpty() ? key : path + "." + key, depth + 1));
            } else {
                node.children().add(nodes.get(child));
            }
        }
        return node;
    }

    private static KernelSize kernelSize(Object attribute) {
        if (attribute instanceof Long l) {
            return new KernelSize(List.of(l), true);
        }
        if (attribute instanceof PyTuple t && !t.items.isEmpty() && t.items.stream().allMatch(Long.class::isInstance)) {
            return new KernelSize(t.items.stream().map(Long.class::cast).toList(), false);
        }
        return null;
    }

    /**
     * The modules in {@code named_modules()} order, each with the parameters of its subtree; null
     * when there are too many to list within the bounds.
     */
    private List<ModuleSummary.Module> listing(Node top, Map<TensorNode, String> names) {
        List<Node> order = new ArrayList<>();
        Set<Node> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collect(top, order, seen);
        if (order.size() > MAX_MODULES) {
            return null;
        }
        List<ModuleSummary.Module> out = new ArrayList<>();
        for (Node n : order) {
            Set<TensorNode> parameters = Collections.newSetFromMap(new IdentityHashMap<>());
            if (!subtreeParameters(n, parameters, Collections.newSetFromMap(new IdentityHashMap<>()))) {
                return null;
            }
            List<String> parameterNames = new ArrayList<>(new LinkedHashSet<>(parameters.stream().map(names::get)
                    .toList()));
            out.add(new ModuleSummary.Module(n.path(), n.className(), n.depth(), n.children().isEmpty(),
                    n.kernelSize(), parameterNames));
        }
        return out;
    }

    private static void collect(Node n, List<Node> order, Set<Node> seen) {
        if (seen.add(n) && order.size() <= MAX_MODULES) {
            order.add(n);
            for (Node c : n.children()) {
                collect(c, order, seen);
            }
        }
    }

    /** Adds the parameters of {@code n} and its submodules; false when the step budget is spent. */
    private boolean subtreeParameters(Node n, Set<TensorNode> into, Set<Node> seen) {
        if (!seen.add(n)) {
            return true;
        }
        steps += 1 + n.parameters().size();
        if (steps > MAX_STEPS) {
            return false;
        }
        into.addAll(n.parameters());
        for (Node c : n.children()) {
            if (!subtreeParameters(c, into, seen)) {
                return false;
            }
        }
        return true;
    }

}
