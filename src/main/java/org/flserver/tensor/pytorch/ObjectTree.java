package org.flserver.tensor.pytorch;

import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.SymbolicPickle.Global;
import org.flserver.tensor.pytorch.SymbolicPickle.PyDict;
import org.flserver.tensor.pytorch.SymbolicPickle.PyList;
import org.flserver.tensor.pytorch.SymbolicPickle.PyObject;
import org.flserver.tensor.pytorch.SymbolicPickle.PyTuple;
import org.flserver.tensor.pytorch.SymbolicPickle.StorageRef;
import org.flserver.tensor.pytorch.SymbolicPickle.TensorNode;

import java.nio.ByteBuffer;
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
import java.util.function.Supplier;

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
 * on the current path and has a work budget: a pickle of a few KB cannot make it walk forever. The
 * budget counts work, not visits: building a name and digesting a string or bytes value cost by their
 * length, since the memo lets one large value be reached millions of times. Names are bounded too
 * (each, and all names and aliases together), so the walk's result stays small as well.
 */
final class ObjectTree {

    static final int MAX_DEPTH = 1_000;
    /** Work units of one walk: one per value visited, plus one per 64 characters of names built and hashed. */
    static final long MAX_WORK = 5_000_000;
    /** Characters of one tensor name (its path of keys and indices); real names are under 200. */
    static final int MAX_NAME_CHARS = 8192;
    /** Names after the first that one file may give its tensors together (tied weights have a few). */
    static final int MAX_ALIASES = 100_000;
    /** Characters of all tensor names and aliases of one file together. */
    static final long MAX_NAMES_TOTAL_CHARS = 32L << 20;
    private static final List<String> MODULE_CONTAINERS = List.of("_parameters", "_buffers", "_modules");

    /** A tensor found by the walk, in first-visit order. */
    record NamedTensor(TensorNode node, String name, List<String> aliases) {
    }

    private final Map<Object, Boolean> onPath = new IdentityHashMap<>();
    private long work;
    private final Map<Object, byte[]> encodedValues = new IdentityHashMap<>();
    private long aliases;
    private long nameChars;

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
            nameChars += path.length();
            if (nameChars > MAX_NAMES_TOTAL_CHARS) {
                throw new WeightFileException("tensor names together exceed " + MAX_NAMES_TOTAL_CHARS + " characters");
            }
            if (known == null) {
                NamedTensor nt = new NamedTensor(tn, path, new ArrayList<>());
                found.put(tn, nt);
                order.add(nt);
            } else {
                if (++aliases > MAX_ALIASES) {
                    throw new WeightFileException("tensors are named more than " + MAX_ALIASES + " times over");
                }
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
        work(1);
    }

    private void work(long units) throws WeightFileException {
        work += units;
        if (work > MAX_WORK) {
            throw new WeightFileException("pickled object graph is too large to walk (more than " + MAX_WORK
                    + " steps)");
        }
    }

    /** The name of a child: refused before it is built when it would be longer than {@link #MAX_NAME_CHARS}. */
    private String join(String path, String key) throws WeightFileException {
        long length = (long) path.length() + 1 + key.length();
        if (length > MAX_NAME_CHARS) {
            throw new WeightFileException("pickled object tree has a path longer than " + MAX_NAME_CHARS
                    + " characters (at '" + SymbolicPickle.printable(path) + "')");
        }
        work(length / 64);
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
            work(s.length() / 32); // hashed at every reference
            md.update(encodedOnce(v, () -> "s" + s));
        } else if (v instanceof Long || v instanceof Boolean) {
            token(md, "i" + v);
        } else if (v instanceof Double d) {
            token(md, "f" + Long.toHexString(Double.doubleToRawLongBits(d)));
        } else if (v instanceof byte[] b) {
            work(b.length / 16); // two hex characters a byte, hashed at every reference
            md.update(encodedOnce(v, () -> "b" + HexFormat.of().formatHex(b)));
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
        md.update(encoded(s));
    }

    /**
     * The token of a string or bytes value, encoded once per object: the memo lets one large value be
     * referenced a million times, and re-encoding it at each reference allocated its size every time.
     */
    private byte[] encodedOnce(Object value, Supplier<String> token) {
        return encodedValues.computeIfAbsent(value, v -> encoded(token.get()));
    }

    /** A token as hashed: its UTF-8 length (4 bytes, big-endian), then its UTF-8 bytes. */
    private static byte[] encoded(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array();
    }
}
