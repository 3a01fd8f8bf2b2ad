package org.flserver.inference.djl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.flserver.inference.InferenceException;

/**
 * Refuses TorchScript archives whose code can touch the server beyond computing tensors. A
 * TorchScript module is code that libtorch compiles and runs in the server's process, and its
 * operator set includes file access: {@code torch.from_file(path, ...)} reads any file the server
 * can read into a tensor the caller gets back, {@code torch.save(x, path)} writes one (both tried
 * with torch 1.13 and libtorch 2.7.1). Operators outside the tensor namespaces (distributed,
 * custom-op libraries) and custom C++ classes are refused too.
 *
 * <p>This reads the archive's {@code code/**.py} (the source libtorch compiles; the archive was
 * already validated by the server's reader) and looks at identifiers. It is a deny list of what is
 * known to reach outside, not a sandbox: a module can still run long or allocate much (README,
 * "Inference runtime").
 */
final class CodeCheck {

    /** Operators that open files by name. */
    private static final Set<String> FILE_OPERATORS = Set.of("from_file", "save", "load");

    /** Operator namespaces a model may call through {@code ops.<namespace>.<op>}. */
    private static final Set<String> NAMESPACES = Set.of("aten", "prim", "quantized", "_quantized");

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern OPS_NAMESPACE = Pattern.compile("\\bops\\s*\\.\\s*([A-Za-z_][A-Za-z0-9_]*)");
    private static final Pattern CLASSES = Pattern.compile("\\btorch\\s*\\.\\s*classes\\b");

    /** More TorchScript source than any model needs; bounds the work of a hostile archive. */
    static final long MAX_CODE_BYTES = 64L << 20;

    private CodeCheck() {
    }

    static void check(Path archive) throws InferenceException, IOException {
        long total = 0;
        try (ZipFile zip = new ZipFile(archive.toFile())) {
            for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                String name = entry.getName();
                int code = name.indexOf("/code/");
                if (code < 0 || !name.endsWith(".py") || entry.isDirectory()) {
                    continue;
                }
                String source;
                try (InputStream in = zip.getInputStream(entry)) {
                    byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, MAX_CODE_BYTES - total + 1));
                    total += bytes.length;
                    if (total > MAX_CODE_BYTES) {
                        throw refused("its code is larger than " + (MAX_CODE_BYTES >> 20) + " MiB");
                    }
                    source = new String(bytes, StandardCharsets.UTF_8);
                }
                checkSource(name.substring(code + 1), source);
            }
        }
    }

    static void checkSource(String file, String source) throws InferenceException {
        Matcher id = IDENTIFIER.matcher(source);
        while (id.find()) {
            if (FILE_OPERATORS.contains(id.group())) {
                throw refused(file + " calls '" + id.group() + "', which reads or writes files on the server");
            }
        }
        Matcher ops = OPS_NAMESPACE.matcher(source);
        while (ops.find()) {
            if (!NAMESPACES.contains(ops.group(1))) {
                throw refused(file + " calls operators of the namespace '" + ops.group(1)
                        + "' (only aten, prim and quantized operators are allowed)");
            }
        }
        if (CLASSES.matcher(source).find()) {
            throw refused(file + " uses custom C++ classes (torch.classes)");
        }
    }

    private static InferenceException refused(String why) {
        return new InferenceException(400, "this TorchScript model is refused: " + why
                + "; inference runs only models that compute on tensors (README, \"Inference runtime\")");
    }
}
