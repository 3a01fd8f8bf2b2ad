package org.flserver.inference.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.flserver.inference.worker.InferenceWorker;
import org.flserver.model.ModelFiles;

/**
 * Builds the command line that starts an {@link InferenceWorker} for a set of module files: inside
 * bubblewrap ({@code bwrap}, Debian's {@code bubblewrap} package) in the default mode, or as a plain
 * child process when the operator chose {@code fl.inference.sandbox=none}.
 *
 * <p>Why bubblewrap: it is the unprivileged sandbox that Flatpak and others rely on, packaged by
 * every distribution, and it composes exactly the isolation a worker needs from the kernel's own
 * mechanisms (namespaces, bind mounts, {@code PR_SET_NO_NEW_PRIVS}) without a daemon or a
 * configuration file. What the worker gets:
 * <ul>
 *   <li>every namespace new ({@code --unshare-all}): no network but an unconfigured loopback of its
 *       own, its own PID space, no view of the host's processes or IPC;</li>
 *   <li>a file system built from read-only binds of {@code /usr} (the C library, the JDK), the JDK's
 *       configuration, the runtime's jars, the server's classes, DJL's unpacked libtorch, and exactly
 *       the module files of its requests; nothing is writable, and nothing else of the host — the
 *       model store, the database, the server's configuration — exists inside;</li>
 *   <li>when the server runs as root, an unprivileged user outside as well ({@code setpriv} to
 *       {@code fl.inference.sandbox-uid}, default 65534 "nobody"), no capabilities, no new
 *       privileges, no nested user namespaces, a new session (no terminal injection), and death with
 *       the server;</li>
 *   <li>a seccomp filter ({@link SeccompFilter}) refusing the system calls no model needs;</li>
 *   <li>resource limits set by {@code prlimit} before the JVM starts: address space, no file may be
 *       written ({@code RLIMIT_FSIZE} 0), no core dumps, a bounded number of open files; and a lower
 *       scheduling priority ({@code nice}) so that the server's own threads win the CPU.</li>
 * </ul>
 * The time limit is the server's: it kills a worker whose request outlives its deadline.
 */
public final class WorkerLauncher {

    /** How a worker is isolated. */
    public enum Mode { BWRAP, NONE }

    /** Where things are seen inside the sandbox. */
    static final String RUNTIME = "/fl/runtime";
    static final String CLASSES = "/fl/classes";
    static final String CACHE = "/fl/djl-cache";
    static final String MODELS = "/fl/models";

    /**
     * What a launcher needs.
     *
     * @param mode        BWRAP, or NONE (operator's explicit opt-out)
     * @param javaHome    the JDK the worker runs on (the server's own)
     * @param runtimeDir  DJL's and libtorch's jars
     * @param classes     the server's classes (a directory or jar holding the worker)
     * @param djlCache    DJL's cache, where {@code --prepare} unpacked libtorch
     * @param heapMb      the worker JVM's heap
     * @param memoryMb    the worker's address-space limit ({@code RLIMIT_AS})
     * @param uid         the user a worker runs as when the server is root; negative: the server's own
     * @param mallocTuning glibc's mmap and trim thresholds raised to 256 MiB (libtorch's activations)
     * @param bwrap       the bubblewrap program ({@code bwrap} on the PATH)
     * @param modelStore  the folder of the model files, which workers' binds come from (for the probe)
     * @param workerOptions more JVM options for workers (tests)
     * @param nice        how much lower than the server's the workers' scheduling priority is (0–19)
     */
    public record Settings(Mode mode, Path javaHome, Path runtimeDir, Path classes, Path djlCache, int heapMb,
                           long memoryMb, int uid, boolean mallocTuning, String bwrap, Path modelStore,
                           List<String> workerOptions, int nice) {
    }

    private final Settings settings;

    /**
     * Whether bubblewrap itself runs as {@code settings.uid} (the server is root and that user can
     * read everything a worker needs); else the worker is uid 65534 only inside its user namespace.
     */
    private volatile boolean dropUid;

    /** The seccomp program's file once {@link #prepare} wrote it, else null (no filter). */
    private volatile Path seccomp;

    public WorkerLauncher(Settings settings) {
        this.settings = settings;
        this.dropUid = settings.uid() >= 0 && isRoot();
    }

    public Settings settings() {
        return settings;
    }

    /** A worker that may run the given modules (file hash to the file in the model store). */
    public ProcessBuilder worker(Map<String, Path> modules) throws IOException {
        List<String> workerArgs = new ArrayList<>();
        Map<Path, String> binds = new LinkedHashMap<>();
        for (Map.Entry<String, Path> m : modules.entrySet()) {
            if (dropUid) {
                // the worker reads its model as "others"; a store written by an older version kept
                // aggregated global models owner-only (0600), and the server owns them
                ModelFiles.readableByAll(m.getValue());
            }
            String inside = settings.mode() == Mode.BWRAP ? MODELS + "/" + m.getKey() : m.getValue().toString();
            binds.put(m.getValue(), inside);
            workerArgs.add("--module");
            workerArgs.add(m.getKey() + "=" + inside);
        }
        List<String> command = new ArrayList<>();
        if (settings.mode() == Mode.BWRAP) {
            command.addAll(bubblewrap(binds));
        }
        command.addAll(limits());
        command.addAll(java(settings.mode() == Mode.BWRAP));
        command.addAll(workerArgs);
        return process(command);
    }

    /**
     * Any command in the sandbox a worker for {@code modules} gets, with the same binds and limits:
     * for looking at what a model would see (tests, and an operator checking a host).
     */
    public ProcessBuilder sandboxed(Map<String, Path> modules, List<String> command) throws IOException {
        Map<Path, String> binds = new LinkedHashMap<>();
        modules.forEach((sha, path) -> binds.put(path, MODELS + "/" + sha));
        List<String> c = new ArrayList<>(bubblewrap(binds));
        c.addAll(limits());
        c.addAll(command);
        return process(c);
    }

    /**
     * Unpacks libtorch and JNA's native stub into the DJL cache once, so that workers can read it
     * from a read-only bind. No user code runs: the worker's {@code --prepare} only starts the
     * engine, as the server's own user and outside the sandbox, since the cache must be written.
     */
    public void prepare() throws SandboxUnavailable {
        Path cache = settings.djlCache();
        Path stub = cache.resolve(InferenceWorker.JNA_DIR).resolve("libjnidispatch.so");
        writeSeccompFilter(cache);
        if (Files.isRegularFile(stub)) {
            return;
        }
        try {
            Files.createDirectories(cache);
            List<String> command = new ArrayList<>(java(false));
            command.add("--prepare");
            String output = runToEnd(process(command), 300);
            if (!Files.isRegularFile(stub)) {
                throw new SandboxUnavailable("the TorchScript runtime could not be unpacked into " + cache + ": "
                        + lastLine(output));
            }
            readableByAll(cache);
        } catch (IOException e) {
            throw new SandboxUnavailable("the TorchScript runtime could not be unpacked into " + cache + ": "
                    + e.getMessage());
        }
    }

    /**
     * Writes the seccomp program ({@link SeccompFilter}) beside the cache, where bubblewrap reads it
     * from at every start; none on architectures it does not cover.
     */
    private void writeSeccompFilter(Path cache) throws SandboxUnavailable {
        byte[] program = SeccompFilter.forThisMachine();
        if (settings.mode() != Mode.BWRAP || program == null) {
            return;
        }
        try {
            Files.createDirectories(cache);
            Path file = cache.resolve("seccomp.bpf");
            Path tmp = Files.createTempFile(cache, "seccomp", ".tmp");
            Files.write(tmp, program);
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            seccomp = file;
        } catch (IOException e) {
            throw new SandboxUnavailable("the sandbox's seccomp filter cannot be written to " + cache + ": "
                    + e.getMessage());
        }
    }

    /**
     * Starts a sandbox with the JDK and every bind a worker gets in it once: a host without
     * bubblewrap or without user namespaces fails here, with a message that says so. When the
     * server is root and the unprivileged user cannot read a bound folder (e.g. a checkout under a
     * mode-700 folder), workers run as root mapped to uid 65534 inside their own user namespace,
     * without capabilities; what it returns then says so, for the log.
     *
     * @return a warning for the log, or null
     */
    public String probe() throws SandboxUnavailable {
        try {
            probeOnce();
            return null;
        } catch (SandboxUnavailable e) {
            if (!dropUid) {
                throw e;
            }
            dropUid = false;
            probeOnce();
            return "uid " + settings.uid() + " cannot use what the inference sandbox binds (" + e.getMessage()
                    + "); workers run as the server's user mapped to uid 65534 inside their own user namespace,"
                    + " without capabilities. Make the runtime, the DJL cache, the server's classes and the model"
                    + " store readable for uid " + settings.uid() + " to run them as that user outside as well.";
        }
    }

    private void probeOnce() throws SandboxUnavailable {
        String output;
        try {
            Map<Path, String> binds = new LinkedHashMap<>();
            if (settings.modelStore() != null && Files.isDirectory(settings.modelStore())) {
                binds.put(settings.modelStore(), MODELS);
            }
            List<String> command = new ArrayList<>(bubblewrap(binds));
            command.addAll(List.of(javaBinary(), "-XX:-UsePerfData", "-version"));
            output = runToEnd(new ProcessBuilder(command), 60);
        } catch (IOException e) {
            throw new SandboxUnavailable("no sandbox can be made on this host: bubblewrap (" + settings.bwrap()
                    + ") could not be started (" + e.getMessage() + "); install Debian's bubblewrap package, or set"
                    + " fl.inference.sandbox=none to run models without a sandbox (unsafe unless every uploader"
                    + " is trusted)");
        } catch (SandboxUnavailable e) {
            throw new SandboxUnavailable("no sandbox can be made on this host: " + e.getMessage() + "; bubblewrap"
                    + " needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0), or set"
                    + " fl.inference.sandbox=none (unsafe)");
        }
        if (!output.contains("version")) {
            throw new SandboxUnavailable("no sandbox can be made on this host: the JDK did not start in it: "
                    + lastLine(output));
        }
    }

    /** Runs a short command to its end; fails with its last line when it fails. */
    private static String runToEnd(ProcessBuilder command, long seconds) throws IOException, SandboxUnavailable {
        Process p = command.redirectErrorStream(true).start();
        p.getOutputStream().close();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            byte[] b = new byte[8192];
            for (int n; (n = in.read(b)) > 0; ) {
                if (out.size() < 1 << 20) {
                    out.write(b, 0, n);
                }
            }
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new SandboxUnavailable(command.command().get(0) + " did not finish in " + seconds + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new SandboxUnavailable("interrupted");
        }
        String text = out.toString(StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new SandboxUnavailable(lastLine(text) + " (exit status " + p.exitValue() + ")");
        }
        return text;
    }

    private static String lastLine(String text) {
        String t = text.strip();
        int nl = t.lastIndexOf('\n');
        return nl < 0 ? t : t.substring(nl + 1);
    }

    /**
     * Lets the sandbox's unprivileged user read the unpacked runtime (temporary files are created
     * readable by their owner only). Nothing in the cache is secret: it is what the jars hold.
     */
    private static void readableByAll(Path cache) throws IOException {
        try (Stream<Path> paths = Files.walk(cache)) {
            for (Path p : paths.toList()) {
                Set<PosixFilePermission> perms = EnumSet.copyOf(Files.getPosixFilePermissions(p));
                perms.add(PosixFilePermission.OTHERS_READ);
                perms.add(PosixFilePermission.GROUP_READ);
                if (Files.isDirectory(p)) {
                    perms.add(PosixFilePermission.OTHERS_EXECUTE);
                    perms.add(PosixFilePermission.GROUP_EXECUTE);
                }
                Files.setPosixFilePermissions(p, perms);
            }
        }
    }

    private ProcessBuilder process(List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/bin:/bin");
        env.put("LANG", "C.UTF-8");
        env.put("OMP_NUM_THREADS", "1");
        env.put("MKL_NUM_THREADS", "1");
        env.put("MALLOC_ARENA_MAX", "2");
        if (settings.mallocTuning()) {
            env.put("MALLOC_MMAP_THRESHOLD_", "268435456");
            env.put("MALLOC_TRIM_THRESHOLD_", "268435456");
        }
        return pb;
    }

    private List<String> bubblewrap(Map<Path, String> modules) throws IOException {
        List<String> c = new ArrayList<>();
        if (seccomp != null) {
            // bwrap reads the program from a descriptor: a shell opens the file as descriptor 9 first
            c.addAll(List.of("/bin/sh", "-c", "exec \"$@\" 9<\"$0\"", seccomp.toString()));
        }
        if (dropUid) {
            c.addAll(List.of("setpriv", "--reuid=" + settings.uid(), "--regid=" + settings.uid(), "--clear-groups",
                    "--no-new-privs"));
        }
        c.addAll(List.of(settings.bwrap(), "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--disable-userns", "--hostname", "fl-inference"));
        if (seccomp != null) {
            c.addAll(List.of("--seccomp", "9"));
        }
        c.addAll(List.of("--ro-bind", "/usr", "/usr"));
        for (String top : List.of("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")) {
            Path p = Path.of(top);
            if (Files.isSymbolicLink(p)) {
                c.addAll(List.of("--symlink", Files.readSymbolicLink(p).toString(), top));
            } else if (Files.isDirectory(p)) {
                c.addAll(List.of("--ro-bind", top, top));
            }
        }
        for (Path dir : jdkDirectories()) {
            c.addAll(List.of("--ro-bind", dir.toString(), dir.toString()));
        }
        c.addAll(List.of("--ro-bind", real(settings.runtimeDir()), RUNTIME));
        c.addAll(List.of("--ro-bind", real(settings.classes()), CLASSES));
        c.addAll(List.of("--ro-bind", real(settings.djlCache()), CACHE));
        for (Map.Entry<Path, String> m : modules.entrySet()) {
            c.addAll(List.of("--ro-bind", real(m.getKey()), m.getValue()));
        }
        // the sandbox's own root and /dev are tmpfs folders bubblewrap builds: read-only too, once built
        c.addAll(List.of("--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir",
                "/", "--"));
        return c;
    }

    /** prlimit and nice, both from util-linux/coreutils in /usr/bin, applied before the JVM starts. */
    private List<String> limits() {
        return List.of("/usr/bin/prlimit", "--as=" + settings.memoryMb() * 1024 * 1024, "--fsize=0", "--core=0",
                "--nofile=256", "--", "/usr/bin/nice", "-n", String.valueOf(settings.nice()));
    }

    /**
     * The JVM, through a shell that moves standard output to descriptor 3 (the reply pipe) and points
     * descriptor 1 at standard error before the JVM starts.
     */
    private List<String> java(boolean sandboxed) throws IOException {
        String cache = sandboxed ? CACHE : real(settings.djlCache());
        String classPath = sandboxed ? CLASSES + ":" + RUNTIME + "/*"
                : real(settings.classes()) + ":" + real(settings.runtimeDir()) + "/*";
        List<String> c = new ArrayList<>(List.of("/bin/sh", "-c", "exec 3>&1 1>&2; exec \"$@\"", "sh",
                javaBinary(), "-Xmx" + settings.heapMb() + "m", "-XX:+UseSerialGC",
                "-XX:-UsePerfData", "-XX:ReservedCodeCacheSize=48m", "-XX:MaxMetaspaceSize=128m",
                "-XX:CompressedClassSpaceSize=64m", "-Xshare:auto", "-Djava.io.tmpdir=/nonexistent",
                "--add-opens=java.base/java.io=ALL-UNNAMED",
                "-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true", "-DDJL_CACHE_DIR=" + cache,
                "-DENGINE_CACHE_DIR=" + cache, "-Dai.djl.pytorch.num_threads=1",
                "-Dai.djl.pytorch.num_interop_threads=1", "-Dfl.inference.malloc-tuning=false",
                "-Djna.boot.library.path=" + cache + "/" + InferenceWorker.JNA_DIR, "-Djna.nounpack=true"));
        String optimizer = System.getProperty("ai.djl.pytorch.graph_optimizer");
        if (optimizer != null) {
            c.add("-Dai.djl.pytorch.graph_optimizer=" + Boolean.parseBoolean(optimizer));
        }
        c.addAll(settings.workerOptions());
        c.addAll(List.of("-cp", classPath, InferenceWorker.class.getName()));
        return c;
    }

    private String javaBinary() throws IOException {
        return real(settings.javaHome()) + "/bin/java";
    }

    /**
     * The JDK's home and the folders outside it that its configuration links to (Debian's JDK links
     * its {@code conf/} and {@code lib/security/} files into a configuration folder of its own),
     * unless under /usr, which every worker sees anyway. A link's folder is bound by its top two
     * levels (that configuration folder), so that the worker sees the same files the server's JDK does.
     */
    private List<Path> jdkDirectories() throws IOException {
        Path home = settings.javaHome().toRealPath();
        Set<Path> dirs = new LinkedHashSet<>();
        dirs.add(home);
        for (String sub : List.of("conf", "lib/security")) {
            Path dir = home.resolve(sub);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(dir, 3)) {
                for (Path link : files.filter(Files::isSymbolicLink).toList()) {
                    Path target = link.toRealPath().getParent();
                    if (target != null && !target.startsWith(home) && target.getNameCount() >= 2) {
                        dirs.add(target.getRoot().resolve(target.subpath(0, 2)));
                    }
                }
            } catch (IOException e) {
                // a dangling link: the JDK does without that file; so can the worker
            }
        }
        dirs.removeIf(d -> d.startsWith("/usr/"));
        return List.copyOf(dirs);
    }

    private static String real(Path p) throws IOException {
        return p.toRealPath().toString();
    }

    /**
     * Whether this process runs as root: the owner of {@code /proc/self}. Where that cannot be read
     * (no procfs, or a file system without the "unix" attribute view, i.e. not Linux) the answer is
     * "no", which only means bubblewrap is started as the server's own user; such a host cannot make
     * the sandbox anyway, and the probe says so.
     */
    private static boolean isRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }
}
