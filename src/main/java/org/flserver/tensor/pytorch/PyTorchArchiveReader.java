package org.flserver.tensor.pytorch;

import org.flserver.tensor.FormatKind;
import org.flserver.tensor.ModuleSummary;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.SymbolicPickle.PyDict;
import org.flserver.tensor.pytorch.SymbolicPickle.PyObject;
import org.flserver.tensor.pytorch.SymbolicPickle.StorageRef;
import org.flserver.tensor.pytorch.SymbolicPickle.TensorNode;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the table of contents of a {@code torch.save} or {@code torch.jit.save} ZIP archive without
 * running any of it: the ZIP structure through {@link ZipDirectory}, {@code data.pkl} through
 * {@link SymbolicPickle}, then every storage record and every tensor view is checked against the
 * bytes really present. The result lists where each storage's bytes are, so the aggregation can
 * stream them straight from the file.
 *
 * <p>The whole file is validated here, before any aggregation touches it.
 */
public final class PyTorchArchiveReader {

    /** Cap on {@code data.pkl} (torch files are KB to a few MB even for large models). */
    public static final long MAX_PICKLE_BYTES = 64L << 20;
    /**
     * Elements of one tensor view. A view can address more elements than its storage holds (stride 0,
     * as {@code expand} makes), so the storage's bounds do not bound it; whatever later walks the
     * tensor element by element (statistics, conversion, inference) would. 2^36 is 16 times what the
     * largest accepted upload (4 GiB of one-byte elements) can store.
     */
    public static final long MAX_TENSOR_ELEMENTS = 1L << 36;
    /** Elements of all tensor views of one file together (each tensor once, however often it is named). */
    public static final long MAX_TOTAL_ELEMENTS = 1L << 38;
    private static final long MAX_TEXT_RECORD = 4096;
    private static final List<String> TEXT_RECORDS = List.of("version", ".data/version", "byteorder",
            ".format_version", ".storage_alignment", ".data/serialization_id");

    private PyTorchArchiveReader() {
    }

    public static WeightFile read(Path path, PicklePolicy policy) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, ch, policy);
        }
    }

    static WeightFile read(Path path, FileChannel ch, PicklePolicy policy) throws IOException {
        long fileSize = ch.size();
        ZipDirectory zip = ZipDirectory.read(ch);
        ZipDirectory.Entry pkl = zip.find("data.pkl")
                .orElseThrow(() -> new WeightFileException("archive has no data.pkl record"));
        if (zip.find("version").isEmpty() && zip.find(".data/version").isEmpty()) {
            throw new WeightFileException("archive has no version record");
        }
        boolean torchscript = zip.find("constants.pkl").isPresent()
                || zip.entries().stream().anyMatch(e -> e.relativeName().startsWith("code/"));

        Map<String, String> text = new LinkedHashMap<>();
        for (String name : TEXT_RECORDS) {
            var e = zip.find(name);
            if (e.isPresent()) {
                text.put(name, new String(ZipDirectory.content(ch, e.get(), MAX_TEXT_RECORD), StandardCharsets.UTF_8));
            }
        }
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        String bo = text.getOrDefault("byteorder", "little").strip();
        if (bo.equals("big")) {
            order = ByteOrder.BIG_ENDIAN;
        } else if (!bo.equals("little")) {
            throw new WeightFileException("unknown byteorder '" + SymbolicPickle.printable(bo) + "'");
        }

        SymbolicPickle.Result result = SymbolicPickle.interpret(ZipDirectory.content(ch, pkl, MAX_PICKLE_BYTES),
                policy, torchscript);
        FormatKind kind;
        if (torchscript) {
            kind = FormatKind.TORCHSCRIPT;
        } else if (result.root() instanceof PyObject) {
            kind = FormatKind.MODULE;
        } else if (result.root() instanceof PyDict) {
            kind = FormatKind.STATE_DICT;
        } else if (result.root() instanceof TensorNode) {
            kind = FormatKind.TENSOR;
        } else {
            throw new WeightFileException("top-level object is neither a dict, a module nor a tensor");
        }

        List<StorageInfo> storages = storages(zip, result, "data/", order);
        List<TensorInfo> tensors = new ArrayList<>();
        List<ObjectTree.NamedTensor> named = ObjectTree.tensors(result.root());
        ElementBudget budget = new ElementBudget();
        for (ObjectTree.NamedTensor nt : named) {
            tensors.add(tensor(nt, budget));
        }
        String structure = ObjectTree.structureDigest(result.root());
        Map<String, ModuleTree.Declaration> declarations = new HashMap<>();
        String code = torchscript ? codeDigest(ch, zip, policy, order, declarations) : "";
        ModuleSummary modules = ModuleTree.summarize(kind, result.root(), named, declarations);
        return new WeightFile(path, kind, fileSize, tensors, storages, text, structure, code,
                modules != null ? modules : ModuleSummary.inferred(tensors));
    }

    /** Checks every storage's record: present, STORED, and exactly numel × element size bytes. */
    private static List<StorageInfo> storages(ZipDirectory zip, SymbolicPickle.Result result, String folder,
                                              ByteOrder order) throws WeightFileException {
        List<StorageInfo> out = new ArrayList<>();
        for (StorageRef s : result.storages().values()) {
            String record = folder + s.key;
            ZipDirectory.Entry e = zip.find(record)
                    .orElseThrow(() -> new WeightFileException("storage " + s.key + " has no record " + record));
            long expected;
            try {
                expected = Math.multiplyExact(s.numel, (long) s.dtype.size());
            } catch (ArithmeticException ex) {
                expected = -1;
            }
            if (e.size() != expected) {
                throw new WeightFileException("record " + record + " has " + e.size() + " bytes, pickle says "
                        + s.numel + " x " + s.dtype.size());
            }
            if (!e.stored()) {
                throw new WeightFileException("record " + record + " is compressed; tensor records must be STORED");
            }
            out.add(new StorageInfo(s.key, s.dtype, s.numel, e.dataOffset(), e.size(), order, s.location,
                    e.crc32Offsets()));
        }
        return out;
    }

    /** Counts the elements of a file's tensor views against {@link #MAX_TOTAL_ELEMENTS}. */
    private static final class ElementBudget {
        private long total;

        void add(long numel, String name) throws WeightFileException {
            total += numel; // both at most 2^38 here, so no overflow
            if (total > MAX_TOTAL_ELEMENTS) {
                throw new WeightFileException("tensors have more than " + MAX_TOTAL_ELEMENTS
                        + " elements together (limit per file; exceeded at tensor '" + SymbolicPickle.printable(name)
                        + "')");
            }
        }
    }

    /**
     * Checks the view with overflow-checked arithmetic: every addressed element lies in the storage,
     * and its element count is within {@link #MAX_TENSOR_ELEMENTS} and the file's budget.
     */
    private static TensorInfo tensor(ObjectTree.NamedTensor nt, ElementBudget budget) throws WeightFileException {
        TensorNode t = nt.node();
        long storageNumel = t.storage.numel;
        try {
            long numel = 1;
            long last = t.offset;
            for (int i = 0; i < t.size.length; i++) {
                numel = Math.multiplyExact(numel, t.size[i]);
                if (t.size[i] > 0) {
                    last = Math.addExact(last, Math.multiplyExact(t.size[i] - 1, t.stride[i]));
                }
            }
            if (numel > MAX_TENSOR_ELEMENTS) {
                throw tooManyElements(nt, Long.toString(numel));
            }
            budget.add(numel, nt.name());
            boolean inside = numel == 0 ? t.offset <= storageNumel : last < storageNumel;
            if (!inside) {
                throw new WeightFileException("tensor view exceeds its storage: '" + SymbolicPickle.printable(nt.name())
                        + "' " + Arrays.toString(t.size) + " at offset " + t.offset + " on " + storageNumel
                        + " elements");
            }
        } catch (ArithmeticException e) {
            if (overflowsElementCount(t.size)) {
                throw tooManyElements(nt, "over 2^63");
            }
            throw new WeightFileException("tensor view exceeds its storage: '" + SymbolicPickle.printable(nt.name())
                    + "' overflows");
        }
        return new TensorInfo(nt.name(), nt.aliases(), t.storage.dtype, boxed(t.size), boxed(t.stride), t.offset,
                t.storage.key);
    }

    private static WeightFileException tooManyElements(ObjectTree.NamedTensor nt, String numel) {
        return new WeightFileException("tensor '" + SymbolicPickle.printable(nt.name()) + "' "
                + Arrays.toString(nt.node().size) + " has " + numel + " elements, more than the limit of "
                + MAX_TENSOR_ELEMENTS + " per tensor");
    }

    private static boolean overflowsElementCount(long[] size) {
        try {
            long n = 1;
            for (long s : size) {
                n = Math.multiplyExact(n, s);
            }
            return false;
        } catch (ArithmeticException e) {
            return !Arrays.stream(size).anyMatch(s -> s == 0);
        }
    }

    private static List<Long> boxed(long[] a) {
        List<Long> l = new ArrayList<>(a.length);
        for (long v : a) {
            l.add(v);
        }
        return l;
    }

    /**
     * Digest of what makes a TorchScript archive a program: its {@code code/} sources and its constants.
     * The {@code .debug_pkl} records are left out: they hold source paths of the compiling machine.
     * The constants pickle is interpreted too, so it is validated like {@code data.pkl}. The module
     * classes the code declares are collected into {@code declarations} on the way.
     */
    private static String codeDigest(FileChannel ch, ZipDirectory zip, PicklePolicy policy, ByteOrder order,
                                     Map<String, ModuleTree.Declaration> declarations) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<ZipDirectory.Entry> code = new ArrayList<>();
        for (ZipDirectory.Entry e : zip.entries()) {
            String n = e.relativeName();
            if (n.startsWith("code/") && !n.endsWith(".debug_pkl") || n.equals("constants.pkl")
                    || n.startsWith("constants/")) {
                code.add(e);
            }
        }
        code.sort((a, b) -> a.relativeName().compareTo(b.relativeName()));
        long total = 0;
        for (ZipDirectory.Entry e : code) {
            total += e.size();
            if (total > 4 * MAX_PICKLE_BYTES) {
                throw new WeightFileException("TorchScript code records are too large");
            }
            byte[] content = ZipDirectory.content(ch, e, MAX_PICKLE_BYTES);
            md.update(e.relativeName().getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(Long.toString(content.length).getBytes(StandardCharsets.US_ASCII));
            md.update((byte) 0);
            md.update(content);
            ModuleTree.declare(e.relativeName(), content, declarations);
            if (e.relativeName().equals("constants.pkl")) {
                SymbolicPickle.Result constants = SymbolicPickle.interpret(content, policy, true);
                storages(zip, constants, "constants/", order);
                ElementBudget budget = new ElementBudget();
                for (ObjectTree.NamedTensor nt : ObjectTree.tensors(constants.root())) {
                    tensor(nt, budget);
                }
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
