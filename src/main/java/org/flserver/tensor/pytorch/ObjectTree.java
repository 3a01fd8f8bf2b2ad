package org.flserver.tensor.pytorch;

import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.SymbolicPickle.Global;
import org.flserver.tensor.pytorch.SymbolicPickle.PyDict;
import org.flserver.tensor.pytorch.SymbolicPickle.PyList;
import org.flserver.tensor.pytorch.SymbolicPickle.PyObject;
import org.flserver.tensor.pytorch.SymbolicPickle.PyTuple;
import org.flserver.tensor.pytorch.SymbolicPickle.StorageRef;
import org.flserver.tensor.pytorch.SymbolicPickle.TensorNode;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Walks the symbolic object tree of a pickle: names every tensor the way {@code state_dict()} does,
 * and digests the non-tensor structure for the same-architecture check.
 *
 * <p>Naming rule (the fixtures' manifests use exactly this): dict key → {@code key}; list or tuple
 * index → {@code i}; an object whose state holds {@code _parameters}, {@code _buffers} or
 * {@code _modules} (an {@code nn.Module}) contributes those dicts' entries directly, in that order,
 * then its other attributes by name; other objects contribute attributes by name. A tensor reached
 * again through the memo keeps its first name and collects the later paths as aliases.
 *
 * <p>The memo can make the tree a graph (shared or even cyclic), so the walk skips containers already
 * on the current path and has a step budget: a pickle of a few KB cannot make it walk forever.
 */
final class ObjectTree {

    static final int MAX_DEPTH = 1_000;
    static final long MAX_STEPS = 5_000_000;
    private static final List<String> MODULE_CONTAINERS = List.of("_parameters", "_buffers", "_modules");

    /** A tensor found by the walk, in first-visit order. */
    record NamedTensor(TensorNode node, String name, List<String> aliases) {
    }

    private final Map<Object, Boolean> onPath = new IdentityHashMap<>();
    private long steps;

    private ObjectTree() {
    }

    static List<NamedTensor> tensors(Object root) throws WeightFileException {
        ObjectTree t = new ObjectTree();
        Map<TensorNode, NamedTensor> found = new IdentityHashMap<>();
        List<NamedTensor> order = new ArrayList<>();
        t.walk(root, "", 0, found, order);
        return order;
    }

    private void walk(Object v, String path, int depth, Map<TensorNode, NamedTensor> found, List<NamedTensor> order)
            throws WeightFileException {
        step(depth);
        if (v instanceof TensorNode tn) {
            NamedTensor known = found.get(tn);
            if (known == null) {
                NamedTensor nt = new NamedTensor(tn, path, new ArrayList<>());
                found.put(tn, nt);
                order.add(nt);
            } else {
                known.aliases().add(path);
            }
            return;
        }
        if (!(v instanceof PyDict || v instanceof PyList || v instanceof PyTuple || v instanceof PyObject)
                || onPath.containsKey(v)) {
            return;
        }
        onPath.put(v, Boolean.TRUE);
        if (v instanceof PyDict d) {
            for (Map.Entry<Object, Object> e : d.items.entrySet()) {
                walk(e.getValue(), join(path, keyName(e.getKey())), depth + 1, found, order);
            }
        } else if (v instanceof PyList l) {
            walkIndexed(l.items, path, depth, found, order);
        } else if (v instanceof PyTuple t) {
            walkIndexed(t.items, path, depth, found, order);
        } else {
            Object state = ((PyObject) v).state;
            if (state instanceof PyDict sd) {
                boolean module = false;
                for (String c : MODULE_CONTAINERS) {
                    if (sd.items.get(c) instanceof PyDict inner) {
                        module = true;
                        for (Map.Entry<Object, Object> e : inner.items.entrySet()) {
                            walk(e.getValue(), join(path, keyName(e.getKey())), depth + 1, found, order);
                        }
                    }
                }
                for (Map.Entry<Object, Object> e : sd.items.entrySet()) {
                    if (!(module && MODULE_CONTAINERS.contains(e.getKey()))) {
                        walk(e.getValue(), join(path, keyName(e.getKey())), depth + 1, found, order);
                    }
                }
            } else if (state != null) {
                walk(state, path, depth + 1, found, order);
            }
        }
        onPath.remove(v);
    }

    private void walkIndexed(List<Object> items, String path, int depth, Map<TensorNode, NamedTensor> found,
                             List<NamedTensor> order) throws WeightFileException {
        for (int i = 0; i < items.size(); i++) {
            walk(items.get(i), join(path, Integer.toString(i)), depth + 1, found, order);
        }
    }

    private void step(int depth) throws WeightFileException {
        if (depth > MAX_DEPTH) {
            throw new WeightFileException("pickled object tree is nested deeper than " + MAX_DEPTH);
        }
        if (++steps > MAX_STEPS) {
            throw new WeightFileException("pickled object graph is too large to walk");
        }
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String keyName(Object k) {
        if (k instanceof Boolean b) {
            return b ? "True" : "False";
        }
        return k == SymbolicPickle.None.NONE ? "None" : String.valueOf(k);
    }

    /**
     * SHA-256 of the non-tensor structure: classes, attribute names and values, container shapes.
     * Tensors count only as "a tensor here" (their table is compared separately); storages by key;
     * the {@code training} flag is left out because saving in train or eval mode does not change the
     * architecture.
     */
    static String structureDigest(Object root) throws WeightFileException {
        ObjectTree t = new ObjectTree();
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        t.digest(root, 0, md, Collections.newSetFromMap(new IdentityHashMap<>()));
        return HexFormat.of().formatHex(md.digest());
    }

    private void digest(Object v, int depth, MessageDigest md, Set<Object> path) throws WeightFileException {
        step(depth);
        if (v instanceof TensorNode) {
            token(md, "T");
        } else if (v instanceof StorageRef s) {
            token(md, "S" + s.key);
        } else if (v instanceof Global g) {
            token(md, "G" + g);
        } else if (v instanceof String s) {
            token(md, "s" + s);
        } else if (v instanceof Long || v instanceof Boolean) {
            token(md, "i" + v);
        } else if (v instanceof Double d) {
            token(md, "f" + Long.toHexString(Double.doubleToRawLongBits(d)));
        } else if (v instanceof byte[] b) {
            token(md, "b" + HexFormat.of().formatHex(b));
        } else if (v == SymbolicPickle.None.NONE) {
            token(md, "N");
        } else if (!path.add(v)) {
            token(md, "cycle");
        } else {
            if (v instanceof PyDict d) {
                token(md, "{");
                for (Map.Entry<Object, Object> e : d.items.entrySet()) {
                    digest(e.getKey(), depth + 1, md, path);
                    digest(e.getValue(), depth + 1, md, path);
                }
                token(md, "}");
                if (d.state != null) {
                    token(md, "state");
                    digest(d.state, depth + 1, md, path);
                }
            } else if (v instanceof PyList || v instanceof PyTuple) {
                token(md, v instanceof PyList ? "[" : "(");
                for (Object o : v instanceof PyList l ? l.items : ((PyTuple) v).items) {
                    digest(o, depth + 1, md, path);
                }
                token(md, "]");
            } else if (v instanceof PyObject o) {
                token(md, "O" + o.cls);
                if (o.state instanceof PyDict sd) {
                    token(md, "{");
                    for (Map.Entry<Object, Object> e : sd.items.entrySet()) {
                        if (!"training".equals(e.getKey())) {
                            digest(e.getKey(), depth + 1, md, path);
                            digest(e.getValue(), depth + 1, md, path);
                        }
                    }
                    token(md, "}");
                } else if (o.state != null) {
                    digest(o.state, depth + 1, md, path);
                }
            }
            path.remove(v);
        }
    }

    private static void token(MessageDigest md, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        md.update((byte) (b.length >>> 24));
        md.update((byte) (b.length >>> 16));
        md.update((byte) (b.length >>> 8));
        md.update((byte) b.length);
        md.update(b);
    }
}
