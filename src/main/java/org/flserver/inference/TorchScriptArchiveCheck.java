package org.flserver.inference;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.pytorch.ArchiveRecords;

/**
 * Refuses TorchScript archives whose code can touch its host beyond computing tensors, before any
 * inference worker is started for them: the first line of defence, in front of the sandbox the
 * workers run in ({@code org.flserver.inference.sandbox}).
 *
 * <p>Two layers. First the archive's layout, as an allow list: every record must be one that
 * {@code torch.jit.save} writes, named exactly as torch names it. This matters because libtorch
 * finds records regardless of case, and compiles whatever record its lookup finds: a code record
 * named {@code hostile_models.PY}, {@code CODE/...}, or a benign {@code .py} with a hostile twin
 * differing in case is run just like {@code hostile_models.py} (torch 1.13 does so with the
 * fixtures in {@code src/test/resources/hostile}), so a check that reads only what it expects to
 * be code would read something other than what runs. With the layout fixed, the code records this
 * class reads are exactly the ones libtorch can find.
 *
 * <p>Then every code record's source, against a deny list: operators that open files by name
 * ({@code torch.from_file(path, ...)} reads any file the server can read into a tensor the caller
 * gets back, {@code torch.save(x, path)} writes one), operators outside the tensor namespaces
 * (distributed, custom-op libraries) and custom C++ classes. That list names what is known to reach
 * outside; it is no sandbox: a module can still run long, allocate much or return uninitialised
 * memory, which the sandbox contains (README, "Security").
 *
 * <p>The archive is read through the server's own ZIP reader ({@link ArchiveRecords}), never
 * {@code java.util.zip}: ZIP readers differ in how they find the central directory, and a file can
 * show {@code ZipFile} benign code while libtorch's miniz finds hostile code in the same file. The
 * server's reader refuses every file on which they could disagree (docs/pytorch-formats.md §a).
 *
 * <p>Pure Java on purpose (no DJL): it runs before the runtime is involved and can be tested alone.
 */
public final class TorchScriptArchiveCheck {

    /** Far more records than any model has (one per storage, two per code file); bounds the work. */
    static final int MAX_RECORDS = 100_000;

    /** More TorchScript source than any model needs; bounds the work of a hostile archive. */
    static final long MAX_CODE_BYTES = 64L << 20;

    /** Operators that open files by name. */
    private static final Set<String> FILE_OPERATORS = Set.of("from_file", "save", "load");

    /** Operator namespaces a model may call through {@code ops.<namespace>.<op>}. */
    private static final Set<String> NAMESPACES = Set.of("aten", "prim", "quantized", "_quantized");

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern OPS_NAMESPACE = Pattern.compile("\\bops\\s*\\.\\s*([A-Za-z_][A-Za-z0-9_]*)");
    private static final Pattern CLASSES = Pattern.compile("\\btorch\\s*\\.\\s*classes\\b");

    /**
     * A code record: TorchScript puts every class under the qualifier {@code __torch__}, and a class
     * {@code __torch__.a.b.C} in {@code code/__torch__/a/b.py}; module names are Python identifiers
     * (torch mangles the rest into {@code ___torch_mangle_<n>}). The debug pickle beside it holds
     * source ranges for error messages.
     */
    private static final Pattern CODE = Pattern.compile(
            "code/__torch__(?:/[A-Za-z_][A-Za-z0-9_]{0,254}){0,64}\\.py(\\.debug_pkl)?");

    /** Storages of {@code data.pkl} and of {@code constants.pkl}: decimal keys, as torch numbers them. */
    private static final Pattern STORAGE = Pattern.compile("(?:data|constants)/(?:0|[1-9][0-9]{0,18})");

    /** {@code torch.jit.save(..., _extra_files={name: bytes})}: names the saver chose, kept tame. */
    private static final Pattern EXTRA = Pattern.compile(
            "extra(?:/[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}){1,16}");

    /**
     * Fixed records: the pickles, the format version ({@code version}, or {@code .data/version} as
     * newer torch writes it), the {@code .data/serialization_id} of torch 2's writer, and the
     * {@code byteorder} torch 2 writes into {@code torch.save} archives (harmless data, admitted in
     * case a saver adds it). Not {@code .format_version} or {@code .storage_alignment}: only
     * {@code torch.save} writes those.
     */
    private static final Set<String> FIXED = Set.of("data.pkl", "constants.pkl", "version", ".data/version",
            ".data/serialization_id", "byteorder");

    private TorchScriptArchiveCheck() {
    }

    /** The start of every refusal of a file that is no TorchScript archive. */
    public static final String NOT_TORCHSCRIPT = "inference needs a TorchScript model (torch.jit.save of "
            + "torch.jit.script(model)); this file is not one";

    /**
     * Refuses anything the server's own archive reader does not recognise as a TorchScript archive
     * (torch.save files, safetensors, damaged or hostile files), then applies {@link #check}: all
     * before libtorch sees the file.
     */
    public static void requireTorchScript(Path file) throws InferenceException {
        WeightFile weights;
        try {
            weights = WeightFiles.open(file);
        } catch (WeightFileException e) {
            throw new InferenceException(400, NOT_TORCHSCRIPT + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new InferenceException(500, "A model file cannot be read on the server.", e);
        }
        if (weights.kind() != FormatKind.TORCHSCRIPT) {
            throw new InferenceException(400, NOT_TORCHSCRIPT + ": it is a " + weights.kind().format() + " "
                    + weights.kind().label() + " file");
        }
        try {
            check(file);
        } catch (IOException e) {
            throw new InferenceException(400, NOT_TORCHSCRIPT + ": its code cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Refuses the archive with a 400 unless its layout is that of a TorchScript archive and its code
     * calls nothing of the deny list.
     *
     * @throws InferenceException 400, naming the offending record
     * @throws IOException when the file cannot be read
     */
    public static void check(Path archive) throws InferenceException, IOException {
        check(archive, MAX_RECORDS, MAX_CODE_BYTES);
    }

    static void check(Path archive, int maxRecords, long maxCodeBytes) throws InferenceException, IOException {
        ArchiveRecords zip;
        try {
            zip = ArchiveRecords.open(archive);
        } catch (WeightFileException e) {
            throw refused("it is not a readable ZIP archive (" + e.getMessage() + ")");
        }
        try (zip) {
            List<String> names = zip.names();
            if (names.size() > maxRecords) {
                throw refused("it has " + names.size() + " records, more than the " + maxRecords + " allowed");
            }
            long total = 0;
            for (int index : layout(names)) {
                String name = names.get(index);
                // declared sizes first: content() refuses a record that inflates to anything else
                total += zip.size(index);
                if (total > maxCodeBytes) {
                    throw refused("its code is larger than " + sizeOf(maxCodeBytes));
                }
                byte[] bytes;
                try {
                    bytes = zip.content(index, maxCodeBytes);
                } catch (WeightFileException e) {
                    throw refused("record '" + printable(name) + "' cannot be read (" + e.getMessage() + ")");
                }
                checkSource(name, new String(bytes, StandardCharsets.UTF_8));
            }
        }
    }

    /**
     * Checks every record's name and returns the indexes of the code records to read. All records
     * are checked before any code is read, so that a disguised record is refused for its name
     * whatever it holds.
     */
    private static List<Integer> layout(List<String> names) throws InferenceException {
        List<Integer> code = new ArrayList<>();
        // libtorch (miniz) compares names with ASCII case folding: two names equal so are one record
        // to it, and which of them it reads is not ours to guess.
        Map<String, String> folded = new HashMap<>();
        String root = null;
        for (int index = 0; index < names.size(); index++) {
            String name = names.get(index);
            int slash = name.indexOf('/');
            String top = slash < 0 ? name : name.substring(0, slash);
            if (root == null) {
                // libtorch takes the archive's folder from the first record, as torch writes it.
                if (slash < 0 || !saneRoot(top)) {
                    throw refused("record '" + printable(name) + "' is not inside one top-level folder");
                }
                root = top;
            } else if (slash < 0 || !top.equals(root)) {
                throw refused("record '" + printable(name) + "' lies outside the archive's folder '"
                        + printable(root) + "/'");
            }
            String relative = name.substring(slash + 1);
            boolean isCode = CODE.matcher(relative).matches();
            if (!isCode && !FIXED.contains(relative) && !STORAGE.matcher(relative).matches()
                    && !EXTRA.matcher(relative).matches()) {
                throw refused("record '" + printable(name) + "' is not one that torch.jit.save writes");
            }
            String previous = folded.putIfAbsent(relative.toLowerCase(Locale.ROOT), name);
            if (previous != null) {
                throw refused(previous.equals(name)
                        ? "record '" + printable(name) + "' appears twice"
                        : "record '" + printable(name) + "' differs from '" + printable(previous)
                                + "' only in case, and libtorch finds records regardless of case");
            }
            if (isCode && !relative.endsWith(".debug_pkl")) {
                code.add(index);
            }
        }
        return code;
    }

    /**
     * The folder torch names after the file it saves to: any name a file could have, but one
     * segment, printable, and no {@code .}/{@code ..}.
     */
    private static boolean saneRoot(String root) {
        if (root.isEmpty() || root.length() > 255 || root.equals(".") || root.equals("..")) {
            return false;
        }
        for (int i = 0; i < root.length(); i++) {
            char c = root.charAt(i);
            if (Character.isISOControl(c) || c == '\\' || c == ':') {
                return false;
            }
        }
        return true;
    }

    /** Refuses source that calls the deny list; {@code record} names it in the message. */
    static void checkSource(String record, String source) throws InferenceException {
        Matcher id = IDENTIFIER.matcher(source);
        while (id.find()) {
            if (FILE_OPERATORS.contains(id.group())) {
                throw refused(record + " calls '" + id.group() + "', which reads or writes files on the server");
            }
        }
        Matcher ops = OPS_NAMESPACE.matcher(source);
        while (ops.find()) {
            if (!NAMESPACES.contains(ops.group(1))) {
                throw refused(record + " calls operators of the namespace '" + ops.group(1)
                        + "' (only aten, prim and quantized operators are allowed)");
            }
        }
        if (CLASSES.matcher(source).find()) {
            throw refused(record + " uses custom C++ classes (torch.classes)");
        }
    }

    /** A record name as it can be shown: control characters and non-ASCII as {@code \\uXXXX}. */
    static String printable(String name) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < name.length(); i++) {
            if (b.length() >= 300) {
                return b.append("...").toString();
            }
            char c = name.charAt(i);
            if (c >= 0x20 && c < 0x7f) {
                b.append(c);
            } else {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            }
        }
        return b.toString();
    }

    private static String sizeOf(long bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }

    private static InferenceException refused(String why) {
        return new InferenceException(400, "this TorchScript model is refused: " + why
                + "; inference runs only models that compute on tensors (README, \"Inference runtime\")");
    }
}
