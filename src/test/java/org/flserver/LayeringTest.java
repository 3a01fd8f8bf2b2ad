package org.flserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the direction of package dependencies of docs/design.md §3 true: reads every main source
 * file, takes the packages it names (imports, and fully qualified names in code; comments and
 * string literals do not count) and fails naming file, name and rule for each that its package
 * may not use. Sub-packages ({@code tensor.pytorch}, {@code inference.sandbox}) belong to their
 * top-level package.
 */
class LayeringTest {

    private static final Path SOURCES = Path.of("src", "main", "java");

    /**
     * The table of docs/design.md §3: which other packages of org.flserver a package may use.
     * Every package of the Jakarta EE stack may also use {@code platform}, the bottom. The one
     * accepted cycle is {@code training} ↔ {@code round}: the service hands started trainings to
     * the engine, and the engine works on the Training entity.
     */
    static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("platform", Set.of()),
            Map.entry("user", Set.of("platform")),
            Map.entry("model", Set.of("user", "tensor", "platform")),
            Map.entry("training", Set.of("model", "user", "platform", "round", "aggregation")),
            Map.entry("notification", Set.of("training", "user", "platform")),
            Map.entry("round", Set.of("notification", "training", "model", "user", "aggregation", "tensor",
                    "platform")),
            Map.entry("metric", Set.of("round", "training", "model", "user", "platform")),
            Map.entry("inference", Set.of("metric", "round", "notification", "training", "model", "user",
                    "aggregation", "tensor", "platform")),
            Map.entry("web", Set.of("metric", "round", "notification", "training", "model", "user",
                    "aggregation", "tensor", "platform")),
            Map.entry("aggregation", Set.of("tensor")),
            Map.entry("tensor", Set.of()));

    /** Plain-Java libraries: the JDK and each other only, no Jakarta EE, no third-party library. */
    static final Set<String> PLAIN_JAVA = Set.of("tensor", "aggregation");

    /** Deep Java Library types are named only where the inference workers run them. */
    static final String DJL = "ai.djl.";
    static final String DJL_HOME = "org.flserver.inference.djl";

    private static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+)\\s*;", Pattern.MULTILINE);
    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?([\\w.]+)", Pattern.MULTILINE);
    private static final Pattern QUALIFIED = Pattern.compile("\\borg\\.flserver\\.([a-z]\\w*)\\.");

    @Test
    void everyPackageKeepsToTheIntendedDirection() throws IOException {
        List<Path> files = sources();
        assertTrue(files.size() > 100, "expected the main sources under " + SOURCES.toAbsolutePath()
                + ", found " + files.size() + " files");
        List<String> violations = new ArrayList<>();
        for (Path file : files) {
            violations.addAll(violations(file, Files.readString(file)));
        }
        if (!violations.isEmpty()) {
            fail(violations.size() + " dependencies against docs/design.md §3:\n" + String.join("\n", violations));
        }
    }

    @Test
    void everyPackageSaysWhatItIsAndWhatItMayImport() throws IOException {
        Set<Path> packages = new TreeSet<>();
        for (Path file : sources()) {
            packages.add(file.getParent());
        }
        List<String> missing = packages.stream()
                .filter(dir -> !Files.isRegularFile(dir.resolve("package-info.java")))
                .map(Path::toString).toList();
        assertEquals(List.of(), missing, "packages without package-info.java");
    }

    @Test
    void theRuleCatchesAnUpwardImport() {
        // the check itself must be able to fail: a platform class importing from user
        List<String> found = violations(Path.of("Example.java"),
                "package org.flserver.platform;\nimport org.flserver.user.Anonymous;\nclass Example {}\n");
        assertEquals(1, found.size(), found.toString());
        assertTrue(found.get(0).contains("org.flserver.user.Anonymous"), found.get(0));
    }

    @Test
    void commentsAndStringsDoNotCount() {
        List<String> found = violations(Path.of("Example.java"), "package org.flserver.user;\n"
                + "/** See {@link org.flserver.training.TrainingResource}. */\n"
                + "class Example { String s = \"org.flserver.round.RoundEngine.\"; // org.flserver.model.X.\n"
                + " Object o = org.flserver.metric.Metric.class; }\n");
        assertEquals(1, found.size(), found.toString());
        assertTrue(found.get(0).contains("org.flserver.metric"), found.get(0));
    }

    static List<Path> sources() throws IOException {
        try (Stream<Path> walk = Files.walk(SOURCES)) {
            return walk.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
    }

    /** What in {@code text} (the source of {@code file}) breaks a rule, one line each. */
    static List<String> violations(Path file, String text) {
        String code = codeOnly(text);
        Matcher pkg = PACKAGE.matcher(code);
        if (!pkg.find()) {
            return List.of(file + ": no package declaration");
        }
        String packageName = pkg.group(1);
        String home = topLevel(packageName);
        if (home == null) {
            return List.of(file + ": package " + packageName + " is not under org.flserver");
        }
        Set<String> allowed = ALLOWED.get(home);
        if (allowed == null) {
            return List.of(file + ": package " + home + " has no rule; add it to docs/design.md §3 and "
                    + LayeringTest.class.getSimpleName() + ".ALLOWED");
        }
        List<String> found = new ArrayList<>();
        Set<String> names = new TreeSet<>();
        Matcher imports = IMPORT.matcher(code);
        while (imports.find()) {
            names.add(imports.group(1));
        }
        Matcher qualified = QUALIFIED.matcher(code.substring(pkg.end()).replaceAll("(?m)^import\\s.*$", ""));
        while (qualified.find()) {
            names.add("org.flserver." + qualified.group(1) + " (fully qualified in code)");
        }
        for (String name : names) {
            String target = topLevel(name);
            if (target != null && !target.equals(home) && !allowed.contains(target)) {
                found.add(file + ": " + name + " — " + home + " may use " + describe(allowed)
                        + " (docs/design.md §3)");
            }
            if (PLAIN_JAVA.contains(home) && target == null && !name.startsWith("java.") && !name.startsWith("jdk.")) {
                found.add(file + ": " + name + " — " + home + " is plain Java: it may use the JDK and "
                        + describe(allowed) + " (docs/design.md §3)");
            }
            if (name.startsWith(DJL) && !packageName.equals(DJL_HOME) && !packageName.startsWith(DJL_HOME + ".")) {
                found.add(file + ": " + name + " — only " + DJL_HOME + " names Deep Java Library types"
                        + " (docs/design.md §3)");
            }
        }
        return found;
    }

    private static String describe(Set<String> allowed) {
        return allowed.isEmpty() ? "no other package of org.flserver"
                : "only " + String.join(", ", new TreeSet<>(allowed));
    }

    /** {@code user} for {@code org.flserver.user.User}; null outside org.flserver. */
    private static String topLevel(String name) {
        if (!name.startsWith("org.flserver.")) {
            return null;
        }
        String rest = name.substring("org.flserver.".length());
        int dot = rest.indexOf('.');
        String first = dot < 0 ? rest : rest.substring(0, dot);
        return first.split(" ")[0];
    }

    /** The source with comments, string and character literals and text blocks blanked out. */
    static String codeOnly(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (c == '/' && i + 1 < n && text.charAt(i + 1) == '/') {
                while (i < n && text.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == '/' && i + 1 < n && text.charAt(i + 1) == '*') {
                int end = text.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                out.append(' ');
            } else if (text.startsWith("\"\"\"", i)) {
                int end = text.indexOf("\"\"\"", i + 3);
                i = end < 0 ? n : end + 3;
                out.append("\"\"");
            } else if (c == '"' || c == '\'') {
                int j = i + 1;
                while (j < n && text.charAt(j) != c && text.charAt(j) != '\n') {
                    j += text.charAt(j) == '\\' ? 2 : 1;
                }
                i = Math.min(j + 1, n);
                out.append(c).append(c);
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
