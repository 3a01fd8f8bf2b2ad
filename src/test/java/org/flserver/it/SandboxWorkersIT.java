package org.flserver.it;

import static org.flserver.inference.djl.BackendFixtures.assertClose;
import static org.flserver.inference.djl.BackendFixtures.doubles;
import static org.flserver.inference.djl.BackendFixtures.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.djl.BackendFixtures;
import org.flserver.inference.djl.DjlBackend;
import org.flserver.inference.sandbox.SandboxUnavailable;
import org.flserver.inference.sandbox.WorkerLauncher;
import org.flserver.inference.sandbox.WorkerPool;
import org.flserver.inference.worker.WorkerProtocol.Limits;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sandboxed inference workers themselves, driven from the test JVM with the build's runtime
 * jars, the build's classes and real libtorch in bubblewrap: what a model sees and what it can do.
 */
class SandboxWorkersIT {

    private static final WorkerPool.Settings SETTINGS = new WorkerPool.Settings(4, 2, Duration.ofSeconds(60),
            Duration.ofSeconds(60), new Limits(64 << 20, 64 << 20, 100, 1 << 20, 16 << 20));

    private static WorkerLauncher launcher;
    private static WorkerPool pool;
    private static WorkerPool unchecked;
    private static BackendFixtures fixtures;

    private static final Path HOSTILE = Path.of("src", "test", "resources", "hostile");

    /**
     * A launcher like the server's, with a 3 GiB address-space limit; with {@code unchecked}, the
     * worker lets modules the archive check refuses reach libtorch (to show what the sandbox alone
     * contains).
     */
    static WorkerLauncher launcher(WorkerLauncher.Mode mode, boolean unchecked) {
        return new WorkerLauncher(new WorkerLauncher.Settings(mode, Path.of(System.getProperty("java.home")),
                Path.of(System.getProperty("it.inference.libs", "target/inference-libs")).toAbsolutePath(),
                Path.of("target/classes").toAbsolutePath(),
                Path.of(System.getProperty("it.djl.cache.dir", "target/djl-cache")).toAbsolutePath(), 256, 3072,
                65534, true, "bwrap", null,
                unchecked ? List.of("-D" + DjlBackend.UNCHECKED_MODULES + "=true") : List.of(), 10));
    }

    @BeforeAll
    static void start() throws Exception {
        fixtures = BackendFixtures.fromSources();
        launcher = launcher(WorkerLauncher.Mode.BWRAP, false);
        launcher.prepare();
        launcher.probe();
        pool = new WorkerPool(launcher, SETTINGS, Executors.defaultThreadFactory());
        WorkerLauncher uncheckedLauncher = launcher(WorkerLauncher.Mode.BWRAP, true);
        uncheckedLauncher.prepare();
        uncheckedLauncher.probe();
        unchecked = new WorkerPool(uncheckedLauncher, SETTINGS, Executors.defaultThreadFactory());
    }

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.close();
            unchecked.close();
        }
    }

    private static WorkerPool.Key key(String owner, ModuleFile... modules) {
        SortedMap<String, Path> m = new TreeMap<>();
        for (ModuleFile f : modules) {
            m.put(f.sha256(), f.path());
        }
        return new WorkerPool.Key(owner, m);
    }

    private static long in(long seconds) {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    }

    /** Runs {@code command} in the sandbox a worker for {@code module} gets; its exit status and output. */
    private static String[] inside(ModuleFile module, String... command) throws Exception {
        ProcessBuilder pb = launcher.sandboxed(module == null ? Map.of() : Map.of(module.sha256(), module.path()),
                List.of(command)).redirectErrorStream(true);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the sandboxed command ended");
        return new String[] {String.valueOf(p.exitValue()), out};
    }

    @Test
    void aWorkerSeesOnlyItsModulesAndCanWriteNothing() throws Exception {
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Path secret = Files.writeString(Path.of("target", "sandbox-host-secret.txt").toAbsolutePath(),
                "host secret");
        String[] listing = inside(module, "/bin/ls", "-A", "/fl/models");
        assertEquals("0", listing[0], listing[1]);
        assertEquals(module.sha256(), listing[1].strip(), "exactly its own module");
        // a file of the checkout, the checkout itself, the test user's home, the host's temp folder and
        // the fixture folder: nothing of the host but the read-only system folders is bound
        for (String path : List.of(secret.toString(), Path.of("").toAbsolutePath().toString(),
                System.getProperty("user.home"), System.getProperty("java.io.tmpdir"),
                module.path().getParent().toString())) {
            String[] read = inside(module, "/bin/ls", "-l", path);
            assertNotEquals("0", read[0], path + " is visible: " + read[1]);
        }
        for (String target : List.of("/written", "/fl/models/" + module.sha256(), "/dev/shm/written",
                Path.of(System.getProperty("java.io.tmpdir"), "written").toString(),
                "/fl/runtime/written")) {
            String[] write = inside(module, "/bin/sh", "-c", "echo x > " + target);
            assertNotEquals("0", write[0], target + " is writable: " + write[1]);
        }
        assertEquals("host secret", Files.readString(secret), "the host file is unchanged");
        String[] id = inside(module, "/usr/bin/id", "-u");
        assertEquals("65534", id[1].strip(), id[1]);
        String[] caps = inside(module, "/bin/grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status");
        assertTrue(caps[1].contains("CapEff:\t0000000000000000"), caps[1]);
        assertTrue(caps[1].contains("NoNewPrivs:\t1"), caps[1]);
    }

    @Test
    void aSeccompFilterRefusesWhatNoModelNeeds() throws Exception {
        String[] status = inside(null, "/bin/grep", "^Seccomp:", "/proc/self/status");
        assertEquals("Seccomp:\t2", status[1].strip(), "a filter is installed");
        // an empty network namespace still lets a process open AF_INET sockets; the filter does not
        String[] inet = inside(null, "/usr/bin/python3", "-c", "import socket\ntry:\n    socket.socket()\n"
                + "    print('opened')\nexcept PermissionError:\n    print('refused')");
        assertEquals("refused", inet[1].strip(), inet[1]);
        String[] unix = inside(null, "/usr/bin/python3", "-c", "import socket\nsocket.socketpair()\nprint('unix')");
        assertEquals("unix", unix[1].strip(), unix[1]);
        String[] trace = inside(null, "/usr/bin/python3", "-c", "import ctypes, os\nlibc = ctypes.CDLL(None, "
                + "use_errno=True)\nprint(libc.ptrace(16, 1, 0, 0), os.strerror(ctypes.get_errno()))");
        assertEquals("-1 Operation not permitted", trace[1].strip(), trace[1]);
    }

    @Test
    void aWorkerHasNoNetworkNotEvenTheHostsLoopback() throws Exception {
        try (ServerSocket host = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String connect = "import socket\ns = socket.create_connection(('127.0.0.1', " + host.getLocalPort()
                    + "), timeout=5)\nprint('connected')";
            String[] attempt = inside(null, "/usr/bin/python3", "-c", connect);
            assertNotEquals("0", attempt[0], attempt[1]);
            assertFalse(attempt[1].contains("connected\n"), attempt[1]);
            String[] interfaces = inside(null, "/bin/cat", "/proc/net/dev");
            assertFalse(interfaces[1].matches("(?s).*\\b(eth|ens|enp|wl|veth)\\w*:.*"), interfaces[1]);
            host.setSoTimeout(1);
            assertThrows(SocketTimeoutException.class, host::accept, "nothing reached the host's socket");
        }
    }

    @Test
    void modelsThatReadOrWriteFilesFindNothingToReadAndNowhereToWrite() throws Exception {
        Tensor x = Tensor.ofFloats(new long[] {1, 8}, new float[8]);
        // the disguised archive runs its hidden from_file of a host file in libtorch once the check is off
        for (String name : List.of("reads_file.pt", "code_upper_ext.pt")) {
            ModuleFile module = BackendFixtures.file(HOSTILE.resolve(name));
            InferenceException e = assertThrows(InferenceException.class,
                    () -> new SandboxCalls(unchecked, "mallory", 60).forward(module, x), name);
            assertEquals(400, e.status(), name + ": " + e.getMessage());
            assertFalse(e.getMessage().contains("root:"), e.getMessage());
            System.out.printf("SandboxWorkersIT: %s in the sandbox: %s%n", name, e.getMessage());
        }
        // torch.save in TorchScript does not report a failed write (libtorch ignores the stream's state):
        // whether the call answers or fails, the host must have no file
        try {
            new SandboxCalls(unchecked, "mallory", 60).forward(BackendFixtures.file(HOSTILE.resolve("writes_file.pt")), x);
        } catch (InferenceException e) {
            assertEquals(400, e.status(), e.getMessage());
        }
        for (Path written : List.of(Path.of("").toAbsolutePath().getRoot().resolve("fl-hostile-written.pt"),
                Path.of("fl-hostile-written.pt"),
                Path.of(System.getProperty("java.io.tmpdir"), "fl-hostile-written.pt"))) {
            assertFalse(Files.exists(written), written + " was written on the host");
        }
        // the same files never reach a worker when the check is on
        InferenceException refused = assertThrows(InferenceException.class, () -> new SandboxCalls(pool, "mallory", 60)
                .forward(BackendFixtures.file(HOSTILE.resolve("code_upper_ext.pt")), x));
        assertTrue(refused.getMessage().startsWith("this TorchScript model is refused"), refused.getMessage());
    }

    @Test
    void aModelThatNeverEndsIsKilledAtItsDeadlineAndItsOwnerGetsAFreshWorker() throws Exception {
        ModuleFile loop = BackendFixtures.file(HOSTILE.resolve("loop_forever.pt"));
        Tensor x = Tensor.ofFloats(new long[] {1, 8}, new float[8]);
        long before = pool.startedWorkers();
        InferenceException e = assertThrows(InferenceException.class, () -> pool.run(key("mallory", loop),
                new Request("NONE", List.of(loop.sha256()), null, null, 1, null, null, null, x), in(8), () -> false)
                .status());
        assertEquals(504, e.status(), e.getMessage());
        assertEquals(0, pool.liveWorkersOf("mallory"), "the looping worker is gone");
        ModuleFile echo = BackendFixtures.file(HOSTILE.resolve("echo.pt"));
        Tensor marker = Tensor.ofFloats(new long[] {1, 8}, new float[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertArrayEquals(marker.toDoubles(), new SandboxCalls(pool, "mallory", 60).forward(echo, marker).toDoubles());
        assertEquals(before + 2, pool.startedWorkers());
    }

    @Test
    void aCallerThatGoesAwayStopsItsModel() throws Exception {
        ModuleFile loop = BackendFixtures.file(HOSTILE.resolve("loop_forever.pt"));
        Tensor x = Tensor.ofFloats(new long[] {1, 8}, new float[8]);
        AtomicBoolean gone = new AtomicBoolean();
        Thread leaves = new Thread(() -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            gone.set(true);
        });
        leaves.start();
        InferenceException e = assertThrows(InferenceException.class, () -> pool.run(key("leaver", loop),
                new Request("NONE", List.of(loop.sha256()), null, null, 1, null, null, null, x), in(120), gone::get));
        assertEquals(503, e.status(), e.getMessage());
        assertEquals("The request was cancelled.", e.getMessage());
        assertEquals(0, pool.liveWorkersOf("leaver"));
    }

    @Test
    void allocationsBeyondTheWorkersMemoryFailInsideIt() throws Exception {
        ModuleFile huge = BackendFixtures.file(HOSTILE.resolve("alloc_huge.pt"));
        ModuleFile grow = BackendFixtures.file(HOSTILE.resolve("alloc_grow.pt"));
        SandboxCalls calls = new SandboxCalls(pool, "hog", 60);
        InferenceException e = assertThrows(InferenceException.class,
                () -> calls.forward(huge, Tensor.ofFloats(new long[] {1, 8}, new float[8])));
        assertEquals(400, e.status(), e.getMessage());
        // 64 blocks of 64 MiB: 4 GiB, over the 3 GiB address space
        float[] blocks = new float[8];
        blocks[0] = 64;
        e = assertThrows(InferenceException.class, () -> calls.forward(grow, Tensor.ofFloats(new long[] {1, 8}, blocks)));
        assertEquals(400, e.status(), e.getMessage());
        blocks[0] = 2;
        Tensor small = calls.forward(grow, Tensor.ofFloats(new long[] {1, 8}, blocks));
        assertArrayEquals(new double[] {16777216, 16777216}, small.toDoubles(), "two blocks fit");
    }

    @Test
    void withoutBubblewrapInferenceIsUnavailableAndSaysWhatIsMissing() throws Exception {
        WorkerLauncher.Settings s = launcher.settings();
        WorkerLauncher missing = new WorkerLauncher(new WorkerLauncher.Settings(s.mode(), s.javaHome(), s.runtimeDir(),
                s.classes(), s.djlCache(), s.heapMb(), s.memoryMb(), s.uid(), s.mallocTuning(),
                "/nonexistent/bwrap", null, List.of(), 10));
        SandboxUnavailable e = assertThrows(SandboxUnavailable.class, missing::probe);
        assertTrue(e.getMessage().startsWith("no sandbox can be made on this host: bubblewrap (/nonexistent/bwrap)"
                + " could not be started"), e.getMessage());
        assertTrue(e.getMessage().contains("install Debian's bubblewrap package"), e.getMessage());
        assertTrue(e.getMessage().contains("fl.inference.sandbox=none"), e.getMessage());
    }

    @Test
    void theOperatorsOptOutRunsWorkersWithoutTheSandbox() throws Exception {
        WorkerLauncher.Settings s = launcher.settings();
        WorkerLauncher plain = new WorkerLauncher(new WorkerLauncher.Settings(WorkerLauncher.Mode.NONE, s.javaHome(),
                s.runtimeDir(), s.classes(), s.djlCache(), s.heapMb(), s.memoryMb(), s.uid(), s.mallocTuning(),
                s.bwrap(), null, List.of(), 10));
        try (WorkerPool unsandboxed = new WorkerPool(plain, SETTINGS, Executors.defaultThreadFactory())) {
            ModuleFile echo = BackendFixtures.file(HOSTILE.resolve("echo.pt"));
            Tensor marker = Tensor.ofFloats(new long[] {1, 8}, new float[] {8, 7, 6, 5, 4, 3, 2, 1});
            assertArrayEquals(marker.toDoubles(), new SandboxCalls(unsandboxed, "trusted", 60).forward(echo, marker)
                    .toDoubles());
            assertFalse(String.join(" ", plain.worker(Map.of(echo.sha256(), echo.path())).command()).contains("bwrap"));
        }
    }

    @Test
    void aSandboxedWorkerComputesWhatPyTorchComputes() throws Exception {
        JsonObject mlp = fixtures.expected().getJsonObject("mlp");
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));
        long started = pool.startedWorkers();
        long t0 = System.nanoTime();
        Reply reply = pool.run(key("alice", module), new Request("NONE", List.of(module.sha256()), null, null, 1,
                null, null, null, x), in(60), () -> false);
        System.out.printf("SandboxWorkersIT: first request (worker start + load + run) %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
        assertEquals(200, reply.status(), reply.message());
        assertClose(doubles(mlp.getJsonArray("forward")), reply.outputs().get(0), 1e-5, "mc_mlp");
        t0 = System.nanoTime();
        reply = pool.run(key("alice", module), new Request("NONE", List.of(module.sha256()), null, null, 1,
                null, null, null, x), in(60), () -> false);
        System.out.printf("SandboxWorkersIT: second request %d us%n", (System.nanoTime() - t0) / 1_000);
        assertEquals(200, reply.status(), reply.message());
        assertEquals(started + 1, pool.startedWorkers(), "the second request reused the first one's worker");
    }

    @Test
    void aModelFileKeptOwnerOnlyByAnOlderStoreIsStillServed() throws Exception {
        // Stores written before the file store made every file readable by all kept aggregated
        // global models at 0600; a worker that runs as the sandbox user must still be able to read them.
        JsonObject mlp = fixtures.expected().getJsonObject("mlp");
        ModuleFile original = fixtures.module("mc_mlp.pt");
        Path store = Files.createTempDirectory("fl-owner-only"); // the model store's folders are 0755
        Files.setPosixFilePermissions(store, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path copy = store.resolve(original.sha256());
        Files.copy(original.path(), copy);
        Files.setPosixFilePermissions(copy, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        ModuleFile module = new ModuleFile(original.sha256(), copy);
        try {
            Reply reply = pool.run(key("owner-only", module), new Request("NONE", List.of(module.sha256()), null,
                    null, 1, null, null, null, tensor(mlp.getJsonObject("input"))), in(60), () -> false);
            assertEquals(200, reply.status(), reply.message());
            assertClose(doubles(mlp.getJsonArray("forward")), reply.outputs().get(0), 1e-5, "mc_mlp");
        } finally {
            Files.deleteIfExists(copy);
            Files.deleteIfExists(store);
        }
    }
}
