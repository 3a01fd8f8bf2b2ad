package org.flserver.tensor.pytorch;

import static org.flserver.tensor.pytorch.PickleOpcodes.*;

import org.flserver.tensor.DType;
import org.flserver.tensor.WeightFileException;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A pickle interpreter that builds a symbolic object tree and never calls, imports or instantiates
 * anything. GLOBALs become {@link Global} markers checked against a {@link PicklePolicy}, and again
 * where they are used (called by REDUCE, instantiated by NEWOBJ, held as a value); the handful
 * of callables torch files use ({@code OrderedDict}, {@code _rebuild_tensor_v2}, …) are interpreted by
 * their meaning; tensors become {@link TensorNode}s that only record which storage they view.
 *
 * <p>This is the reason the server can accept pickles from untrusted clients at all: Python's
 * unpickler runs whatever the file names. Every size in the input is checked against the bytes that
 * remain before anything is allocated, and stack, MARK depth, memo and tensor count are bounded.
 * Every object the interpreter makes (strings, bytes, copies, containers and their entries, memo
 * entries, tensor records) is charged to a byte budget before it is made, and every copy or merge is
 * charged to the work budget by its size, so a hostile pickle costs at most {@link #MAX_HEAP_BYTES}
 * of heap and {@link #MAX_WORK} units of work before it is refused (docs/pytorch-formats.md §d): a
 * small file can no longer make the reader copy one large string a thousand times.
 */
final class SymbolicPickle {

    /**
     * Work units: one per opcode, plus one per item an opcode copies or merges (APPENDS, SETITEMS,
     * TUPLE, BUILD, set copies), plus one per 64 bytes a string or bytes value is copied.
     */
    static final long MAX_WORK = 10_000_000;
    /**
     * Heap the interpreter may allocate for one pickle (estimated JVM sizes, see {@link #charge}), on
     * top of the pickle bytes themselves. The largest real files the project reads (torchvision's
     * models saved whole, {@code data.pkl} up to about 400 KB) are charged under 10 MiB (about 6 KiB
     * a tensor, so a whole-module pickle of some 20,000 tensors fits; state_dicts cost less); the
     * budget bounds what concurrent uploads can cost (docs/pytorch-formats.md §d).
     */
    static final long MAX_HEAP_BYTES = 128L << 20;
    /**
     * Memo entries. Python's pickler memoises every object and string: torchvision's models saved
     * whole have 16 to 23 a tensor (efficientnet_v2_l: 35,868 for 1,548 tensors).
     */
    static final int MAX_MEMO = 1_000_000;
    /** Characters of a dict key: keys become tensor and attribute names. */
    static final int MAX_KEY_CHARS = 4096;
    static final int MAX_MARK_DEPTH = 1_000;
    /** Items on the stack; torch's pickler batches SETITEMS by 1000 pairs, so real files stay near 2000. */
    static final int MAX_STACK = 1_000_000;
    /** Tensor records; real models have hundreds to a few thousand. */
    static final int MAX_TENSORS = 100_000;
    static final int MAX_DIMS = 32;
    private static final int MAX_GLOBAL_LINE = 512;
    private static final Pattern STORAGE_KEY = Pattern.compile("[0-9]{1,20}");

    /** A GLOBAL, kept as a name. */
    record Global(String module, String name) {
        @Override
        public String toString() {
            return module + " " + name;
        }
    }

    /** Python's {@code None}. */
    enum None { NONE }

    /** A dict or OrderedDict; {@code state} is what BUILD attached (the {@code _metadata} attribute). */
    static final class PyDict {
        final LinkedHashMap<Object, Object> items = new LinkedHashMap<>();
        Object state;
    }

    /** A list, or a set or frozenset (order kept, duplicates irrelevant here). */
    static final class PyList {
        final List<Object> items;

        PyList(List<Object> items) {
            this.items = items;
        }
    }

    /** A tuple: immutable, so opcodes that mutate refuse it. */
    static final class PyTuple {
        final List<Object> items;

        PyTuple(List<Object> items) {
            this.items = List.copyOf(items);
        }
    }

    /** An object made by NEWOBJ (or {@code _reconstructor}): a class marker and the state BUILD gave it. */
    static final class PyObject {
        final Global cls;
        Object state;

        PyObject(Global cls) {
            this.cls = cls;
        }
    }

    /** A storage named by a persistent id; one instance per key. */
    static final class StorageRef {
        final String key;
        final DType dtype;
        final String location;
        final long numel;

        StorageRef(String key, DType dtype, String location, long numel) {
            this.key = key;
            this.dtype = dtype;
            this.location = location;
            this.numel = numel;
        }
    }

    /** A tensor record: a view into a storage. Its identity is the memo identity of the pickle. */
    static final class TensorNode {
        final StorageRef storage;
        final long offset;
        final long[] size;
        final long[] stride;
        final String rebuild;
        boolean parameter;
        /** The requires_grad flag the file recorded ({@code _rebuild_tensor_v2}'s or {@code _rebuild_parameter}'s). */
        boolean requiresGrad;

        TensorNode(StorageRef storage, long offset, long[] size, long[] stride, String rebuild) {
            this.storage = storage;
            this.offset = offset;
            this.size = size;
            this.stride = stride;
            this.rebuild = rebuild;
        }
    }

    /** The result: the root object and the storages in first-use order. */
    record Result(Object root, Map<String, StorageRef> storages, int tensorCount) {
    }

    private final byte[] in;
    private final PicklePolicy policy;
    private final boolean torchscript;
    private int pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final int[] marks = new int[MAX_MARK_DEPTH];
    private int markDepth;
    private final HashMap<Long, Object> memo = new HashMap<>();
    private final LinkedHashMap<String, StorageRef> storages = new LinkedHashMap<>();
    private int tensors;
    private long heap;
    private long work;

    private SymbolicPickle(byte[] in, PicklePolicy policy, boolean torchscript) {
        this.in = in;
        this.policy = policy;
        this.torchscript = torchscript;
    }

    /**
     * Interprets {@code pickle} symbolically.
     *
     * @param torchscript whether the TorchScript allow-list applies (instead of torch.save's)
     */
    static Result interpret(byte[] pickle, PicklePolicy policy, boolean torchscript) throws WeightFileException {
        SymbolicPickle p = new SymbolicPickle(pickle, policy, torchscript);
        try {
            Object root = p.run();
            return new Result(root, p.storages, p.tensors);
        } catch (StackOverflowError | ClassCastException | IndexOutOfBoundsException e) {
            // Defensive: every path below checks types and bounds first; this keeps any slip a refusal.
            throw new WeightFileException("malformed pickle at byte " + p.pos);
        }
    }

    private Object run() throws WeightFileException {
        while (true) {
            work(1);
            int op = u8();
            switch (op) {
                case PROTO -> {
                    int v = u8();
                    if (v < 2 || v > 5) {
                        throw new WeightFileException("unsupported pickle protocol " + v);
                    }
                }
                case FRAME -> { // a length hint only
                    long n = u64();
                    if (n < 0 || n > remaining()) {
                        throw new WeightFileException("pickle FRAME longer than the data");
                    }
                }
                case STOP -> {
                    if (markDepth != 0 || stack.size() != 1) {
                        throw new WeightFileException("pickle STOP with an unbalanced stack");
                    }
                    Object root = stack.get(0);
                    checkClassesUsedAsClasses(root);
                    return root;
                }
                case MARK -> {
                    if (markDepth == MAX_MARK_DEPTH) {
                        throw new WeightFileException("pickle MARK depth exceeds " + MAX_MARK_DEPTH);
                    }
                    marks[markDepth++] = stack.size();
                }
                case POP -> {
                    if (markDepth > 0 && marks[markDepth - 1] == stack.size()) {
                        markDepth--;
                    } else {
                        pop();
                    }
                }
                case POP_MARK -> popMark();
                case DUP -> push(peek());
                case NONE -> push(None.NONE);
                case NEWTRUE -> push(Boolean.TRUE);
                case NEWFALSE -> push(Boolean.FALSE);
                case BININT1 -> pushBoxed((long) u8());
                case BININT2 -> pushBoxed((long) (u8() | (u8() << 8)));
                case BININT -> pushBoxed((long) s32());
                case LONG1 -> pushBoxed(long1());
                case BINFLOAT -> pushBoxed(Double.longBitsToDouble(be64()));
                case BINUNICODE -> push(utf8(u32()));
                case SHORT_BINUNICODE -> push(utf8(u8()));
                case BINUNICODE8 -> push(utf8(u64()));
                case SHORT_BINBYTES -> push(bytes(u8()));
                case BINBYTES -> push(bytes(u32()));
                case BINBYTES8 -> push(bytes(u64()));
                case EMPTY_TUPLE -> push(tuple(List.of()));
                case TUPLE -> push(tuple(popMark()));
                case TUPLE1 -> push(tuple(List.of(pop())));
                case TUPLE2 -> {
                    Object b = pop();
                    Object a = pop();
                    push(tuple(List.of(a, b)));
                }
                case TUPLE3 -> {
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(tuple(List.of(a, b, c)));
                }
                case EMPTY_LIST -> push(newList(List.of()));
                case APPEND -> {
                    Object v = pop();
                    List<Object> l = list(peek(), "APPEND");
                    charge(LIST_SLOT);
                    l.add(v);
                }
                case APPENDS -> {
                    List<Object> vs = popMark();
                    List<Object> l = list(peek(), "APPENDS");
                    copying(vs.size(), LIST_SLOT);
                    l.addAll(vs);
                }
                case EMPTY_DICT -> push(newDict());
                case SETITEM -> {
                    Object v = pop();
                    Object k = pop();
                    PyDict d = dict(peek(), "SETITEM");
                    charge(DICT_ENTRY);
                    d.items.put(key(k), v);
                }
                case SETITEMS -> {
                    List<Object> kv = popMark();
                    if (kv.size() % 2 != 0) {
                        throw new WeightFileException("pickle SETITEMS with an odd number of items");
                    }
                    PyDict d = dict(peek(), "SETITEMS");
                    copying(kv.size() / 2, DICT_ENTRY);
                    for (int i = 0; i < kv.size(); i += 2) {
                        d.items.put(key(kv.get(i)), kv.get(i + 1));
                    }
                }
                case EMPTY_SET -> push(newList(List.of()));
                case ADDITEMS -> {
                    List<Object> vs = popMark();
                    List<Object> l = list(peek(), "ADDITEMS");
                    copying(vs.size(), LIST_SLOT);
                    l.addAll(vs);
                }
                case FROZENSET -> push(newList(popMark()));
                case BINPUT -> memoPut(u8());
                case LONG_BINPUT -> memoPut(u32());
                case MEMOIZE -> memoPut(memo.size());
                case BINGET -> push(memoGet(u8()));
                case LONG_BINGET -> push(memoGet(u32()));
                case GLOBAL -> {
                    String module = line();
                    String name = line();
                    push(global(module, name));
                }
                case STACK_GLOBAL -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw new WeightFileException("pickle STACK_GLOBAL without two strings");
                    }
                    push(global(m, n));
                }
                case REDUCE -> {
                    Object args = pop();
                    Object fn = pop();
                    push(reduce(fn, args));
                }
                case NEWOBJ -> {
                    Object args = pop();
                    Object cls = pop();
                    push(newObj(cls, args));
                }
                case NEWOBJ_EX -> { // as NEWOBJ, and the keyword arguments must be empty too
                    Object kwargs = pop();
                    Object args = pop();
                    Object cls = pop();
                    if (!(kwargs instanceof PyDict kw) || !kw.items.isEmpty() || kw.state != null) {
                        throw new WeightFileException("NEWOBJ_EX of " + describe(cls)
                                + " with keyword arguments is not supported");
                    }
                    push(newObj(cls, args));
                }
                case BUILD -> {
                    Object state = pop();
                    build(peek(), state);
                }
                case BINPERSID -> push(persistentLoad(pop()));
                case INST, OBJ -> throw new WeightFileException("pickle opcode " + (op == INST ? "INST" : "OBJ")
                        + " is not allowed");
                case EXT1, EXT2, EXT4 -> throw new WeightFileException("pickle EXT opcodes are not allowed");
                case PERSID -> throw new WeightFileException("pickle text PERSID is not allowed");
                case BYTEARRAY8, NEXT_BUFFER, READONLY_BUFFER ->
                        throw new WeightFileException("pickle protocol-5 buffers are not allowed");
                default -> throw new WeightFileException(String.format(
                        "unsupported pickle opcode 0x%02x at byte %d", op, pos - 1));
            }
        }
    }

    // ---- symbolic meaning of the few callables torch uses ------------------------------------------

    private Global global(String module, String name) throws WeightFileException {
        if (!policy.isAllowed(module, name, torchscript)) {
            throw new WeightFileException("GLOBAL '" + printable(module) + " " + printable(name) + "' not allowed");
        }
        charge(OBJECT + 2 * STRING + 2L * (module.length() + name.length()));
        return new Global(module, name);
    }

    private Object reduce(Object fn, Object argsObj) throws WeightFileException {
        if (!(fn instanceof Global g)) {
            throw new WeightFileException("REDUCE of " + describe(fn) + " not allowed");
        }
        if (!policy.isCallable(g.module(), g.name(), torchscript)) {
            // A class admitted as a NEWOBJ target is not thereby callable: calling it would run its constructor.
            throw new WeightFileException("GLOBAL " + describe(g) + " not allowed: REDUCE may call only the "
                    + "functions torch itself writes");
        }
        if (!(argsObj instanceof PyTuple t)) {
            throw new WeightFileException("REDUCE of " + g + " without an argument tuple");
        }
        List<Object> a = t.items;
        switch (g.toString()) {
            case "collections OrderedDict" -> {
                if (!a.isEmpty()) {
                    throw new WeightFileException("OrderedDict with constructor arguments is not supported");
                }
                return newDict();
            }
            case "torch._utils _rebuild_tensor_v2" -> {
                if (a.size() != 6 && a.size() != 7) {
                    throw new WeightFileException("_rebuild_tensor_v2 with " + a.size() + " arguments");
                }
                return tensor(a, "_rebuild_tensor_v2");
            }
            case "torch._utils _rebuild_tensor" -> {
                if (a.size() != 4) {
                    throw new WeightFileException("_rebuild_tensor with " + a.size() + " arguments");
                }
                return tensor(a, "_rebuild_tensor");
            }
            case "torch._utils _rebuild_parameter", "torch._utils _rebuild_parameter_with_state" -> {
                int expected = g.name().endsWith("_with_state") ? 4 : 3;
                if (a.size() != expected || !(a.get(0) instanceof TensorNode tn) || !(a.get(1) instanceof Boolean)) {
                    throw new WeightFileException(g.name() + " without (tensor, requires_grad, …) arguments");
                }
                tn.parameter = true;
                tn.requiresGrad = (Boolean) a.get(1);
                return tn;
            }
            case "__builtin__ set", "builtins set", "__builtin__ frozenset", "builtins frozenset" -> {
                if (a.size() > 1 || a.size() == 1 && !(a.get(0) instanceof PyList)) {
                    throw new WeightFileException(g + " with unsupported arguments");
                }
                return newList(a.isEmpty() ? List.of() : ((PyList) a.get(0)).items);
            }
            case "_codecs encode" -> {
                if (a.size() != 2 || !(a.get(0) instanceof String s) || !"latin1".equals(a.get(1))) {
                    throw new WeightFileException("_codecs encode with unsupported arguments");
                }
                charge(ARRAY + s.length());
                work(s.length() / 64);
                byte[] b = new byte[s.length()];
                for (int i = 0; i < b.length; i++) {
                    char c = s.charAt(i);
                    if (c > 0xFF) {
                        throw new WeightFileException("_codecs encode of a non-latin1 string");
                    }
                    b[i] = (byte) c;
                }
                return b;
            }
            case "copyreg _reconstructor", "copy_reg _reconstructor" -> {
                return reconstruct(a);
            }
            case "functools partial" -> {
                // The object's BUILD state (f, args, kwargs, dict) is checked with the rest of the tree at STOP.
                if (a.size() != 1 || !isPartialFunction(a.get(0))) {
                    throw new WeightFileException("functools partial of " + (a.isEmpty() ? "nothing"
                            : describe(a.get(0))) + " not allowed (only a torch.nn class or a listed function)");
                }
                charge(OBJECT);
                return new PyObject(g);
            }
            case "torch.jit._pickle restore_type_tag" -> {
                if (a.size() != 2 || !(a.get(1) instanceof String)) {
                    throw new WeightFileException("restore_type_tag with unsupported arguments");
                }
                return a.get(0);
            }
            default -> { // torch.jit._pickle build_*list: the list itself
                if (a.size() != 1 || !(a.get(0) instanceof PyList)) {
                    throw new WeightFileException(g.name() + " without a list argument");
                }
                return a.get(0);
            }
        }
    }

    private TensorNode tensor(List<Object> a, String rebuild) throws WeightFileException {
        if (!(a.get(0) instanceof StorageRef storage)) {
            throw new WeightFileException(rebuild + " without a storage");
        }
        long offset = nonNegative(a.get(1), "storage offset");
        long[] size = dims(a.get(2), "size");
        long[] stride = dims(a.get(3), "stride");
        if (size.length != stride.length) {
            throw new WeightFileException("tensor size and stride differ in length");
        }
        if (a.size() > 4 && !(a.get(4) instanceof Boolean)) {
            throw new WeightFileException(rebuild + ": requires_grad is not a bool");
        }
        if (a.size() > 5 && !(a.get(5) instanceof PyDict)) {
            throw new WeightFileException(rebuild + ": backward hooks are not an OrderedDict");
        }
        if (++tensors > MAX_TENSORS) {
            throw new WeightFileException("pickle has more than " + MAX_TENSORS + " tensors");
        }
        charge(OBJECT + 2 * (ARRAY + 8L * size.length));
        TensorNode node = new TensorNode(storage, offset, size, stride, rebuild);
        node.requiresGrad = a.size() > 4 && (Boolean) a.get(4);
        return node;
    }

    private long[] dims(Object o, String what) throws WeightFileException {
        if (!(o instanceof PyTuple t)) {
            throw new WeightFileException("tensor " + what + " is not a tuple");
        }
        if (t.items.size() > MAX_DIMS) {
            throw new WeightFileException("tensor has more than " + MAX_DIMS + " dimensions");
        }
        charge(ARRAY + 8L * t.items.size());
        long[] r = new long[t.items.size()];
        for (int i = 0; i < r.length; i++) {
            if (!(t.items.get(i) instanceof Long v) || v < 0) { // no message built per element
                throw new WeightFileException("tensor " + what + " must be a non-negative integer");
            }
            r[i] = v;
        }
        return r;
    }

    private static long nonNegative(Object o, String what) throws WeightFileException {
        if (!(o instanceof Long v) || v < 0) {
            throw new WeightFileException(what + " must be a non-negative integer");
        }
        return v;
    }

    private PyObject newObj(Object cls, Object args) throws WeightFileException {
        if (!(cls instanceof Global g) || !policy.isClass(g.module(), g.name(), torchscript)) {
            throw new WeightFileException("NEWOBJ of " + describe(cls) + " not allowed");
        }
        if (!(args instanceof PyTuple t) || !t.items.isEmpty()) {
            throw new WeightFileException("NEWOBJ of " + g + " with constructor arguments is not supported");
        }
        charge(OBJECT);
        return new PyObject(g);
    }

    /**
     * {@code copyreg._reconstructor(cls, object, None)}: what Python's default reduce writes for a
     * plain instance below protocol 2, i.e. {@code object.__new__(cls)} followed by BUILD. Any other
     * base would run {@code base.__new__(cls, state)} and {@code base.__init__(obj, state)}, so only
     * {@code object} with {@code None} state is taken, and {@code cls} must pass as a class.
     */
    private PyObject reconstruct(List<Object> a) throws WeightFileException {
        if (a.size() != 3) {
            throw new WeightFileException("_reconstructor with " + a.size() + " arguments");
        }
        if (!(a.get(1) instanceof Global base) || !policy.isReconstructorBase(base.module(), base.name())) {
            throw new WeightFileException("_reconstructor with base " + describe(a.get(1))
                    + " not allowed (only builtins object)");
        }
        if (a.get(2) != None.NONE) {
            throw new WeightFileException("_reconstructor with a state argument is not supported");
        }
        return newObj(a.get(0), new PyTuple(List.of()));
    }

    /**
     * Refuses a file whose object tree holds a class of the open set anywhere but as the class of an
     * object (a class passed around as a value is something the loading program would use, e.g. call),
     * or holds an object of such a class that BUILD never gave a state. Walks each container once;
     * the containers and their items were all made by opcodes, so the walk is bounded by the opcode
     * count.
     */
    private void checkClassesUsedAsClasses(Object root) throws WeightFileException {
        if (torchscript) {
            return;
        }
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        ArrayDeque<Object> todo = new ArrayDeque<>();
        todo.push(root);
        while (!todo.isEmpty()) {
            Object v = todo.pop();
            if (v instanceof Global g) {
                if (!policy.isValue(g.module(), g.name(), false) && !policy.isListedClass(g.module(), g.name())) {
                    throw new WeightFileException("GLOBAL " + describe(g)
                            + " is held as a value; a class may only be instantiated (NEWOBJ)");
                }
                continue;
            }
            if (!(v instanceof PyDict || v instanceof PyList || v instanceof PyTuple || v instanceof PyObject)
                    || seen.put(v, Boolean.TRUE) != null) {
                continue;
            }
            if (v instanceof PyDict d) {
                todo.addAll(d.items.values());
                if (d.state != null) {
                    todo.push(d.state);
                }
            } else if (v instanceof PyList l) {
                todo.addAll(l.items);
            } else if (v instanceof PyTuple t) {
                todo.addAll(t.items);
            } else {
                PyObject o = (PyObject) v;
                if (o.state == null && !policy.isListedClass(o.cls.module(), o.cls.name())) {
                    throw new WeightFileException("object of class " + describe(o.cls) + " has no BUILD state");
                }
                if (o.cls.toString().equals("functools partial")) {
                    // partial's state is (f, args, kwargs, dict): f is where a class may stand as a value.
                    if (!(o.state instanceof PyTuple t) || t.items.size() != 4 || !isPartialFunction(t.items.get(0))) {
                        throw new WeightFileException("functools partial with an unsupported state");
                    }
                    todo.addAll(t.items.subList(1, 4));
                } else if (o.state != null) {
                    todo.push(o.state);
                }
            }
        }
    }

    /**
     * What a {@code functools.partial} may wrap: what may be held as a value anyway, a listed class
     * (torch.nn's layer classes) or a listed function. The open set of classes may not: the partial
     * would hand the class to code that calls it.
     */
    private boolean isPartialFunction(Object f) {
        return f instanceof Global g && (policy.isListedClass(g.module(), g.name()) || policy.isValue(g.module(),
                g.name(), false));
    }

    private void build(Object target, Object state) throws WeightFileException {
        if (target instanceof PyObject o) {
            if (o.state instanceof PyDict old && state instanceof PyDict add) {
                // Python's BUILD updates __dict__; torch writes one BUILD per object, but a file may repeat
                // it: the merge costs its size in work, and the heap what the dict grows by.
                work(add.items.size());
                int before = old.items.size();
                old.items.putAll(add.items);
                charge((long) (old.items.size() - before) * DICT_ENTRY);
            } else {
                o.state = state;
            }
        } else if (target instanceof PyDict d) {
            d.state = state;
        } else {
            throw new WeightFileException("BUILD on " + describe(target) + " is not supported");
        }
    }

    private StorageRef persistentLoad(Object pid) throws WeightFileException {
        if (!(pid instanceof PyTuple t) || t.items.size() != 5 || !"storage".equals(t.items.get(0))) {
            throw new WeightFileException("unsupported persistent id (expected ('storage', type, key, location, numel))");
        }
        List<Object> f = t.items;
        if (!(f.get(1) instanceof Global g) || !policy.isStorageClass(g.module(), g.name())) {
            throw new WeightFileException("persistent id with unsupported storage type " + describe(f.get(1)));
        }
        if (!(f.get(2) instanceof String key) || !STORAGE_KEY.matcher(key).matches()) {
            throw new WeightFileException("storage key '" + printable(String.valueOf(f.get(2)))
                    + "' is not a decimal number");
        }
        if (!(f.get(3) instanceof String location) || location.length() > 64) {
            throw new WeightFileException("storage " + key + " has no valid location");
        }
        long numel = nonNegative(f.get(4), "storage numel");
        DType dtype = DType.fromStorageClass(g.name()).orElseThrow();
        StorageRef known = storages.get(key);
        if (known != null) {
            if (known.dtype != dtype || known.numel != numel) {
                throw new WeightFileException("storage " + key + " is declared twice with different type or size");
            }
            return known;
        }
        charge(OBJECT + DICT_ENTRY);
        StorageRef s = new StorageRef(key, dtype, location, numel);
        storages.put(key, s);
        return s;
    }

    // ---- budgets ---------------------------------------------------------------------------------------

    // Estimated JVM sizes (compressed references): what each kind of value costs the heap.
    private static final long OBJECT = 32;
    private static final long ARRAY = 16;
    private static final long STRING = 24 + ARRAY;
    private static final long BOXED = 16;
    private static final long LIST_SLOT = 8;
    private static final long DICT_ENTRY = 48;
    private static final long MEMO_ENTRY = 64;

    /** Charges {@code bytes} of heap about to be allocated; refuses the file when the budget is spent. */
    private void charge(long bytes) throws WeightFileException {
        heap += bytes;
        if (heap > MAX_HEAP_BYTES) {
            throw new WeightFileException("pickle needs more than " + (MAX_HEAP_BYTES >> 20)
                    + " MiB of memory to read (limit per file), at byte " + pos);
        }
    }

    private void work(long units) throws WeightFileException {
        work += units;
        if (work > MAX_WORK) {
            throw new WeightFileException("pickle needs more than " + MAX_WORK + " steps to read (limit per file)");
        }
    }

    /** An opcode about to copy {@code items} references, each adding {@code bytesEach} of heap. */
    private void copying(long items, long bytesEach) throws WeightFileException {
        work(items);
        charge(items * bytesEach);
    }

    private PyTuple tuple(List<Object> items) throws WeightFileException {
        copying(items.size(), LIST_SLOT);
        charge(OBJECT + ARRAY);
        return new PyTuple(items);
    }

    private PyList newList(List<Object> items) throws WeightFileException {
        copying(items.size(), LIST_SLOT);
        charge(2 * OBJECT + ARRAY);
        return new PyList(new ArrayList<>(items));
    }

    private PyDict newDict() throws WeightFileException {
        charge(2 * OBJECT + ARRAY + 16 * LIST_SLOT);
        return new PyDict();
    }

    private void pushBoxed(Object o) throws WeightFileException {
        charge(BOXED);
        push(o);
    }

    // ---- stack and memo ------------------------------------------------------------------------------

    private void push(Object o) throws WeightFileException {
        if (stack.size() >= MAX_STACK) {
            throw new WeightFileException("pickle stack exceeds " + MAX_STACK + " items");
        }
        stack.add(o);
    }

    private Object pop() throws WeightFileException {
        int floor = markDepth > 0 ? marks[markDepth - 1] : 0;
        if (stack.size() <= floor) {
            throw new WeightFileException("pickle stack underflow at byte " + (pos - 1));
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() throws WeightFileException {
        int floor = markDepth > 0 ? marks[markDepth - 1] : 0;
        if (stack.size() <= floor) {
            throw new WeightFileException("pickle stack underflow at byte " + (pos - 1));
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws WeightFileException {
        if (markDepth == 0) {
            throw new WeightFileException("pickle opcode without MARK at byte " + (pos - 1));
        }
        int m = marks[--markDepth];
        List<Object> top = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return top;
    }

    private void memoPut(long index) throws WeightFileException {
        Object v = peek();
        if (!memo.containsKey(index)) {
            if (memo.size() >= MAX_MEMO) {
                throw new WeightFileException("pickle memo exceeds " + MAX_MEMO + " entries");
            }
            charge(MEMO_ENTRY);
        }
        memo.put(index, v);
    }

    private Object memoGet(long index) throws WeightFileException {
        Object o = memo.get(index);
        if (o == null) {
            throw new WeightFileException("pickle memo slot " + index + " is empty");
        }
        return o;
    }

    private static List<Object> list(Object o, String op) throws WeightFileException {
        if (!(o instanceof PyList l)) {
            throw new WeightFileException(op + " on " + describe(o));
        }
        return l.items;
    }

    private static PyDict dict(Object o, String op) throws WeightFileException {
        if (!(o instanceof PyDict d)) {
            throw new WeightFileException(op + " on " + describe(o));
        }
        return d;
    }

    /**
     * Dict keys must be hashable values whose Java equality matches Python's. String keys become names
     * (of tensors, attributes, modules), so they are short: at most {@link #MAX_KEY_CHARS}.
     */
    private static Object key(Object k) throws WeightFileException {
        if (k instanceof String s && s.length() > MAX_KEY_CHARS) {
            throw new WeightFileException("pickle dict key of " + s.length() + " characters (at most "
                    + MAX_KEY_CHARS + ")");
        }
        if (k instanceof String || k instanceof Long || k instanceof Boolean || k == None.NONE) {
            return k;
        }
        throw new WeightFileException("unsupported dict key type " + describe(k));
    }

    static String describe(Object o) {
        if (o instanceof Global g) {
            return "'" + printable(g.toString()) + "'";
        }
        if (o == null) {
            return "nothing";
        }
        return o.getClass().getSimpleName();
    }

    /** Keeps file-controlled text in messages short and on one line. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 120; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7F ? c : '?');
        }
        return s.length() > 120 ? b + "…" : b.toString();
    }

    // ---- reading the input, every length checked against what remains --------------------------------

    private int remaining() {
        return in.length - pos;
    }

    private void need(long n) throws WeightFileException {
        if (n < 0 || n > remaining()) {
            throw new WeightFileException("pickle data truncated at byte " + pos);
        }
    }

    private int u8() throws WeightFileException {
        need(1);
        return in[pos++] & 0xFF;
    }

    private int s32() throws WeightFileException {
        need(4);
        int v = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8 | (in[pos + 2] & 0xFF) << 16 | (in[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() throws WeightFileException {
        return s32() & 0xFFFFFFFFL;
    }

    private long u64() throws WeightFileException {
        long lo = u32();
        long hi = u32();
        long v = hi << 32 | lo;
        if (v < 0) {
            throw new WeightFileException("pickle length out of range at byte " + pos);
        }
        return v;
    }

    private long be64() throws WeightFileException {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | (in[pos++] & 0xFF);
        }
        return v;
    }

    private long long1() throws WeightFileException {
        int n = u8();
        if (n > 8) {
            throw new WeightFileException("pickle LONG1 longer than 8 bytes");
        }
        need(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (in[pos + i] & 0xFF);
        }
        if (n > 0 && n < 8 && (in[pos + n - 1] & 0x80) != 0) {
            v |= -1L << (8 * n); // sign-extend two's complement
        }
        pos += n;
        return v;
    }

    private byte[] bytes(long n) throws WeightFileException {
        need(n);
        charge(ARRAY + n);
        work(n / 64);
        byte[] b = new byte[(int) n];
        System.arraycopy(in, pos, b, 0, (int) n);
        pos += (int) n;
        return b;
    }

    private String utf8(long n) throws WeightFileException {
        need(n);
        // The decoder's char buffer (2 bytes a char, at most one char a byte) and the string it becomes.
        charge(STRING + 2 * n);
        work(n / 64);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(in, pos, (int) n)).toString();
            pos += (int) n;
            return s;
        } catch (CharacterCodingException e) {
            throw new WeightFileException("pickle string is not valid UTF-8 at byte " + pos);
        }
    }

    private String line() throws WeightFileException {
        int start = pos;
        while (pos < in.length && in[pos] != '\n') {
            if (pos - start > MAX_GLOBAL_LINE || in[pos] < 0x20 || in[pos] > 0x7E) {
                throw new WeightFileException("malformed GLOBAL name at byte " + start);
            }
            pos++;
        }
        need(1);
        String s = new String(in, start, pos - start, StandardCharsets.US_ASCII);
        pos++;
        return s;
    }
}
