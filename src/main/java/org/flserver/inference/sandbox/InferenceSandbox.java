package org.flserver.inference.sandbox;

import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.inference.worker.InferenceWorker;
import org.flserver.inference.worker.WorkerProtocol.Limits;

/**
 * Where users' TorchScript runs: the application's {@link WorkerPool} of sandboxed worker
 * processes, set up on first use from configuration. The server process itself never loads
 * libtorch; when no sandbox can be made on this host (no {@code bwrap}, user namespaces disabled,
 * no runtime jars), inference answers 503 saying what is missing, unless the operator set
 * {@code fl.inference.sandbox=none}, which runs workers as plain child processes and is logged as a
 * warning at every start.
 */
@ApplicationScoped
public class InferenceSandbox {

    private static final Logger LOG = Logger.getLogger(InferenceSandbox.class.getName());

    /** Largest SWAG vector a worker is sent (parameters of one model: 2^31 floats cannot be had anyway). */
    private static final int MAX_VECTOR = Integer.MAX_VALUE / 4 - 8;

    @Inject
    @ConfigProperty(name = "fl.inference.sandbox", defaultValue = "bwrap")
    String mode;

    @Inject
    @ConfigProperty(name = "fl.inference.bwrap", defaultValue = "bwrap")
    String bwrap;

    @Inject
    @ConfigProperty(name = "fl.inference.runtime-dir")
    Optional<String> runtimeDir;

    @Inject
    @ConfigProperty(name = "fl.inference.djl-cache-dir")
    Optional<String> djlCacheDir;

    @Inject
    @ConfigProperty(name = "fl.data.dir", defaultValue = "fl-data")
    String dataDir;

    @Inject
    @ConfigProperty(name = "fl.inference.timeout-seconds", defaultValue = "30")
    double timeoutSeconds;

    @Inject
    @ConfigProperty(name = "fl.inference.max-workers", defaultValue = "8")
    int maxWorkers;

    @Inject
    @ConfigProperty(name = "fl.inference.workers-per-user", defaultValue = "2")
    int workersPerUser;

    @Inject
    @ConfigProperty(name = "fl.inference.worker-heap-mb", defaultValue = "1024")
    int heapMb;

    @Inject
    @ConfigProperty(name = "fl.inference.worker-memory-mb", defaultValue = "6144")
    long memoryMb;

    @Inject
    @ConfigProperty(name = "fl.inference.memory-budget-mb", defaultValue = "0")
    long memoryBudgetMb;

    @Inject
    @ConfigProperty(name = "fl.inference.worker-idle-seconds", defaultValue = "600")
    long idleSeconds;

    @Inject
    @ConfigProperty(name = "fl.inference.worker-start-seconds", defaultValue = "60")
    long startSeconds;

    @Inject
    @ConfigProperty(name = "fl.inference.sandbox-uid", defaultValue = "65534")
    int uid;

    @Inject
    @ConfigProperty(name = "fl.inference.worker-nice", defaultValue = "10")
    int nice;

    @Inject
    @ConfigProperty(name = "fl.inference.malloc-tuning", defaultValue = "true")
    boolean mallocTuning;

    @Inject
    @ConfigProperty(name = "fl.inference.max-output-bytes", defaultValue = "268435456")
    long maxOutputBytes;

    @Resource(lookup = "java:comp/DefaultManagedThreadFactory")
    ManagedThreadFactory threads;

    private boolean looked; // guarded by this
    private WorkerPool pool; // guarded by this
    private String unavailableReason; // guarded by this

    /** Says at every start how models will run: a warning when they run without a sandbox. */
    void announce(@Observes @Initialized(ApplicationScoped.class) Object started) {
        if (parseMode() == WorkerLauncher.Mode.NONE) {
            LOG.warning("fl.inference.sandbox=none: uploaded TorchScript models run in worker processes WITHOUT a"
                    + " sandbox, with the server user's rights to files and network. Use this only where every"
                    + " user who can upload a model is trusted.");
        } else if (!"bwrap".equals(mode.strip().toLowerCase(Locale.ROOT))) {
            LOG.warning("fl.inference.sandbox=" + mode + " is unknown (bwrap or none): inference is disabled.");
        }
    }

    /** The deadline of one inference request. */
    public Duration timeout() {
        return Duration.ofMillis(Math.max(1, (long) (timeoutSeconds * 1000)));
    }

    /** The pool, or empty when inference cannot run here ({@link #unavailableReason()} says why). */
    public synchronized Optional<WorkerPool> pool() {
        if (!looked) {
            looked = true;
            try {
                pool = create();
            } catch (SandboxUnavailable e) {
                unavailableReason = e.getMessage();
                LOG.warning("inference is unavailable: " + unavailableReason);
            }
        }
        return Optional.ofNullable(pool);
    }

    /** Why {@link #pool()} is empty, or null when it is not. */
    public synchronized String unavailableReason() {
        pool();
        return unavailableReason;
    }

    @PreDestroy
    synchronized void close() {
        if (pool != null) {
            pool.close();
            pool = null;
        }
    }

    private WorkerLauncher.Mode parseMode() {
        return switch (mode.strip().toLowerCase(Locale.ROOT)) {
            case "none" -> WorkerLauncher.Mode.NONE;
            case "bwrap" -> WorkerLauncher.Mode.BWRAP;
            default -> null;
        };
    }

    private WorkerPool create() throws SandboxUnavailable {
        WorkerLauncher.Mode m = parseMode();
        if (m == null) {
            throw new SandboxUnavailable("fl.inference.sandbox is '" + mode + "'; it must be bwrap (the default) or none");
        }
        Path runtime = runtimeDir.map(Path::of).filter(Files::isDirectory).orElseThrow(() -> new SandboxUnavailable(
                "the TorchScript runtime is not configured: set fl.inference.runtime-dir to the folder of DJL's and"
                        + " libtorch's jars (the build copies them to target/inference-libs; see the README,"
                        + " \"Inference runtime\")" + runtimeDir.map(d -> "; '" + d + "' is no folder").orElse("")));
        Path cache = Path.of(djlCacheDir.orElse(System.getProperty("DJL_CACHE_DIR",
                Optional.ofNullable(System.getenv("DJL_CACHE_DIR")).orElse(dataDir + "/djl-cache"))))
                .toAbsolutePath();
        WorkerLauncher launcher = new WorkerLauncher(new WorkerLauncher.Settings(m,
                Path.of(System.getProperty("java.home")), runtime.toAbsolutePath(), workerClasses(), cache,
                Math.max(64, heapMb), Math.max(512, memoryMb), uid, mallocTuning, bwrap,
                Path.of(dataDir, "files").toAbsolutePath(), List.of(), Math.max(0, Math.min(19, nice))));
        launcher.prepare();
        if (m == WorkerLauncher.Mode.BWRAP) {
            String warning = launcher.probe();
            if (warning != null) {
                LOG.warning(warning);
            }
        }
        long maxBytes = Math.max(1 << 20, maxOutputBytes);
        // as many elements as float32 outputs of maxBytes hold: the statistics hold each as a double
        long maxElements = maxBytes / 4;
        long workerMb = Math.max(512, memoryMb);
        long budgetMb = memoryBudgetMb > 0 ? memoryBudgetMb : defaultMemoryBudgetMb();
        int workers = workersWithinBudget(Math.max(1, maxWorkers), workerMb, budgetMb);
        if (workers < Math.max(1, maxWorkers)) {
            LOG.warning("at most " + workers + " inference workers instead of fl.inference.max-workers=" + maxWorkers
                    + ": their address-space limits (fl.inference.worker-memory-mb=" + workerMb + ") must fit the memory"
                    + " budget of " + budgetMb + " MiB (fl.inference.memory-budget-mb"
                    + (memoryBudgetMb > 0 ? "" : "; by default the machine's memory less the server's heap and 1 GiB")
                    + "), so that models that allocate all they may cannot exhaust the machine's memory together");
        }
        WorkerPool.Settings settings = new WorkerPool.Settings(workers, Math.max(1, workersPerUser),
                Duration.ofSeconds(Math.max(1, startSeconds)), Duration.ofSeconds(Math.max(1, idleSeconds)),
                new Limits(maxBytes, maxBytes, 1024 + 1, MAX_VECTOR, maxElements));
        LOG.info(() -> "inference runs in " + (m == WorkerLauncher.Mode.BWRAP ? "bubblewrap sandboxes" : "UNSANDBOXED"
                + " worker processes") + ": at most " + settings.maxWorkers() + " workers, " + settings.workersPerOwner()
                + " per user, deadline " + timeout().toMillis() + " ms, runtime " + runtime + ", cache " + cache);
        return new WorkerPool(launcher, settings, threads);
    }

    /**
     * How many workers may run at once: the configured maximum, lowered so that the workers'
     * address-space limits together stay within the budget, and at least one. A worker's limit is
     * what a model that allocates without bound can take before its allocations fail inside the
     * worker; eight such workers of 6 GiB would ask the kernel for more than most machines have, and
     * its out-of-memory killer might then end the server instead of a worker.
     */
    static int workersWithinBudget(int maxWorkers, long workerMemoryMb, long budgetMb) {
        long fit = budgetMb / Math.max(1, workerMemoryMb);
        return (int) Math.max(1, Math.min(maxWorkers, fit));
    }

    /**
     * The workers' memory budget when none is configured: the physical memory this JVM sees (a
     * container's limit, where there is one) less the server's maximum heap and 1 GiB for the rest
     * of the server process; unlimited where the JVM does not tell the physical memory.
     */
    static long defaultMemoryBudgetMb() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long physicalMb = os.getTotalMemorySize() >> 20;
            return Math.max(0, physicalMb - (Runtime.getRuntime().maxMemory() >> 20) - 1024);
        }
        return Long.MAX_VALUE;
    }

    /** The directory (or jar) that holds the worker's classes: the application's own classes. */
    static Path workerClasses() throws SandboxUnavailable {
        URL location = InferenceWorker.class.getProtectionDomain().getCodeSource() == null ? null
                : InferenceWorker.class.getProtectionDomain().getCodeSource().getLocation();
        if (location == null || !"file".equals(location.getProtocol())) {
            throw new SandboxUnavailable("the server's classes are not in a folder or jar the worker can use (" + location + ")");
        }
        try {
            Path p = Path.of(location.toURI());
            if (p.toString().endsWith(".class")) {
                // a class loader that names the class file itself: go up to the root of the package tree
                for (int i = 0; i < InferenceWorker.class.getName().split("\\.").length && p != null; i++) {
                    p = p.getParent();
                }
            }
            if (p == null || !Files.exists(p)) {
                throw new SandboxUnavailable("the server's classes are not in a folder or jar the worker can use (" + location + ")");
            }
            return p;
        } catch (URISyntaxException e) {
            throw new SandboxUnavailable("the server's classes are not in a folder or jar the worker can use (" + location + ")");
        }
    }
}
