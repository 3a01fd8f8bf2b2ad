package org.flserver.tensor;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringReader;
import java.io.Writer;
import java.io.OutputStreamWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs {@code src/test/python/torchvision_models/make_torchvision_models.py} with Debian's PyTorch and
 * torchvision ({@code /usr/bin/python3}, or {@code -Dfl.python=...}): the torchvision model files are
 * far too big to commit, so tests write them at test time. Without torchvision the tests fail and say
 * how to install it.
 */
public final class TorchvisionModels {

    public static final String PYTHON = System.getProperty("fl.python", "/usr/bin/python3");
    public static final Path SCRIPT = Path.of(System.getProperty("fl.python.dir", "src/test/python"), "torchvision_models",
            "make_torchvision_models.py").toAbsolutePath();
    private static final String INSTALL_HINT = "the torchvision model tests need Debian's python3-torch and "
            + "python3-torchvision for " + PYTHON + ": apt-get install -y --no-install-recommends python3-torch "
            + "python3-torchvision (.ci/run does this), or name another interpreter with -Dfl.python=...";

    private TorchvisionModels() {
    }

    /**
     * Where {@code serve} writes its files: {@code -Dfl.torchvision.dir}, else a fresh folder on the
     * RAM disk {@code /dev/shm} where there is one (the files, up to 0.8 GB, are deleted right after
     * use, and on a busy shared disk writing 20 GB in all costs many minutes), else under target/.
     */
    public static Path servingDir() throws IOException {
        String configured = System.getProperty("fl.torchvision.dir");
        if (configured != null && !configured.isBlank()) {
            return Files.createDirectories(Path.of(configured));
        }
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return Files.createTempDirectory(shm, "fl-torchvision-");
        }
        return Files.createDirectories(Path.of("target", "torchvision-models"));
    }

    /** The generator's {@code list}: the models in order and the skipped ones. */
    public static JsonObject list(Path logDir) throws IOException, InterruptedException {
        return json(run(logDir, "list"));
    }

    /** The generator's {@code write}: NAME.pt, one perturbed client per sample size and their expected mean. */
    public static JsonObject write(Path out, String name, int... sampleSizes) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("write", out.toAbsolutePath().toString(), name));
        for (int n : sampleSizes) {
            args.add(Integer.toString(n));
        }
        return json(run(out, args.toArray(String[]::new)));
    }

    /**
     * One model after the other from the generator's {@code serve}; its files are deleted after
     * {@code next}. The generator writes the next model while the caller reads the current one.
     */
    public static final class Served implements AutoCloseable {
        private final Process process;
        private final BufferedReader out;
        private final Writer in;
        private final Path log;

        public Served(Path dir) throws IOException {
            Files.createDirectories(dir);
            log = dir.resolve("generator.log");
            process = start(log, "serve", dir.toAbsolutePath().toString());
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        }

        /** The next model's JSON line, or null when every model has been served. */
        public JsonObject next() throws IOException {
            String line = out.readLine();
            if (line == null) {
                fail("the generator stopped early: " + tail(log) + "\n" + INSTALL_HINT);
            }
            JsonObject o = json(line);
            return o.containsKey("done") ? null : o;
        }

        /** Lets the generator delete the current model's files and write the next. */
        public void done() throws IOException {
            in.write("next\n");
            in.flush();
        }

        @Override
        public void close() throws IOException {
            process.destroy();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Bytes {@code [offset, offset + length)} of a file. */
    public static byte[] bytes(Path file, long offset, long length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(length));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new IOException("short file " + file);
                }
            }
        }
        return b.array();
    }

    private static String run(Path dir, String... args) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path log = dir.resolve("generator.log");
        Process p = start(log, args);
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroy();
            fail("make_torchvision_models.py " + String.join(" ", args) + " failed: " + tail(log) + "\n"
                    + INSTALL_HINT);
        }
        return stdout;
    }

    private static Process start(Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(PYTHON, SCRIPT.toString()));
        command.addAll(List.of(args));
        try {
            return new ProcessBuilder(command).redirectError(log.toFile()).start();
        } catch (IOException e) {
            throw new AssertionError(INSTALL_HINT + " (" + e.getMessage() + ")", e);
        }
    }

    private static String tail(Path log) throws IOException {
        String s = Files.exists(log) ? Files.readString(log) : "";
        return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    }

    private static JsonObject json(String s) {
        try (JsonReader r = Json.createReader(new StringReader(s))) {
            return r.readObject();
        }
    }
}
