package org.flserver.it;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Starts what the integration tests run against, once per test run: a real PostgreSQL (zonky's
 * embedded binaries, from Maven Central; or an external one named by {@code FL_IT_DB_URL}) and
 * one Payara Micro with the built WAR on it, configured for that database. Plain JUnit classes
 * reach the server through {@link #baseUrl()}; Arquillian classes boot their own Payara Micro with
 * the same database settings (passed as {@code payara.cmdOptions}). The in-container classes
 * ({@link InContainer}) run in a failsafe execution of their own with {@code it.shared-server=false}:
 * no shared server then, so that theirs is the only one on the database. Both get the TorchScript
 * runtime for their sandboxed inference workers ({@code fl.inference.runtime-dir}) and the run
 * command's pre-boot commands ({@link #preBootOptions()}); PlainDeploymentIT's servers get neither
 * unless they ask for them.
 *
 * <p>Only active when failsafe sets {@code it.server=true}, so unit-test runs start nothing.
 */
public class IntegrationEnvironment implements LauncherSessionListener {

    /**
     * The data directory of every test server. Servers on one database must share their data
     * directory (design.md §4: a shared volume), because any of them may run any aggregation job.
     */
    public static final Path DATA_DIRECTORY = Path.of("target", "it", "data");

    /**
     * Sign-ups per client address (fl.signup.max-per-address) on every test server: far more than
     * the whole suite makes from the loopback address, which the servers also believe as a proxy
     * (fl.auth.trusted-proxies), so that UserApiIT can sign up from an address of its own
     * (X-Forwarded-For) until it is refused.
     */
    static final int SIGNUPS_PER_ADDRESS = 1000;

    /** {@code fl.upload.max-bytes} of the test servers: 8 MiB. */
    public static final long UPLOAD_LIMIT_BYTES = 8L << 20;

    private static volatile String baseUrl;
    private static volatile String jdbcUrl;
    private static volatile long serverPid = -1;
    private EmbeddedPostgres postgres;
    private PayaraMicroProcess payara;
    private Path workDir;

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        if (!Boolean.getBoolean("it.server") || jdbcUrl != null) {
            return;
        }
        try {
            workDir = Files.createDirectories(Path.of("target", "it")).toAbsolutePath();
            startDatabase();
            if (postgres != null) {
                // a new database: the stored files of an earlier run name nothing in it, and the
                // servers' collection of unreferenced files would delete them while tests compare
                // the store's contents (ModelApiIT)
                freshDirectory(DATA_DIRECTORY.toAbsolutePath());
            }
            if (Boolean.parseBoolean(System.getProperty("it.shared-server", "true"))) {
                startServer();
            }
            configureArquillian();
        } catch (Exception e) {
            launcherSessionClosed(session);
            throw new IllegalStateException("could not start the integration-test environment: " + e.getMessage(), e);
        }
    }

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        if (payara != null) {
            payara.close();
            payara = null;
        }
        if (postgres != null) {
            try {
                postgres.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            postgres = null;
        }
    }

    /** Root URL of the shared server, e.g. {@code http://localhost:41234} (no trailing slash). */
    public static String baseUrl() {
        if (baseUrl == null) {
            throw new IllegalStateException("the shared server is not running: run with failsafe (mvn verify), and not from"
                    + " an @InContainer class, whose execution has none");
        }
        return baseUrl;
    }

    /** Process id of the shared server (benchmarks read its memory figures from /proc). */
    public static long serverPid() {
        if (serverPid < 0) {
            throw new IllegalStateException("the shared server is not running");
        }
        return serverPid;
    }

    /** JDBC URL of the test database (user and password {@code fl}). */
    public static String jdbcUrl() {
        return jdbcUrl;
    }

    private void startDatabase() throws Exception {
        String external = System.getenv("FL_IT_DB_URL");
        if (external != null && !external.isBlank()) {
            jdbcUrl = external;
            return;
        }
        postgres = EmbeddedPostgres.builder()
                .setOverrideWorkingDirectory(workDir.resolve("pg").toFile())
                .setCleanDataDirectory(true)
                .start();
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE fl LOGIN PASSWORD 'fl'");
            s.execute("CREATE DATABASE fl OWNER fl");
        }
        jdbcUrl = "jdbc:postgresql://127.0.0.1:" + postgres.getPort() + "/fl";
    }

    /** The -D options that point a Payara Micro at the test database. */
    static List<String> serverProperties(Path dataDir) {
        return List.of(
                "-Dfl.db.class=org.flserver.platform.PostgresDataSource",
                "-Dfl.db.url=" + jdbcUrl,
                "-Dfl.db.user=fl",
                "-Dfl.db.password=fl",
                "-Dfl.data.dir=" + dataDir.toAbsolutePath(),
                // Test users need no production-strength hashing; verification reads the count from the hash.
                "-Dfl.auth.pbkdf2-iterations=1000",
                "-Dfl.signup.max-per-address=" + SIGNUPS_PER_ADDRESS,
                // all addresses together: far more than the suite makes (SignUpLimitTest and
                // PasswordGuardTest check that limit; the default of 500 an hour would stop the suite)
                "-Dfl.signup.max-total=100000",
                "-Dfl.auth.trusted-proxies=127.0.0.1,0:0:0:0:0:0:0:1,::1",
                "-Dfl.admin.username=admin",
                "-Dfl.admin.password=admin-password",
                // Small enough that a test can send a little more than the limit (ModelApiIT).
                "-Dfl.upload.max-bytes=" + UPLOAD_LIMIT_BYTES,
                // Aggregation jobs are found at once after the commit that queues them; the poll and
                // the lease only matter after a crash, which the tests want noticed quickly.
                "-Dfl.jobs.poll-seconds=1",
                "-Dfl.jobs.lease-seconds=10",
                // Unreachable notification receivers fail after about a second, not 75 s (api.md §8.2).
                "-Dfl.notification.retry-delays-seconds=0.2,0.2,0.2,0.2",
                // The collection of unreferenced stored files runs every 2 s, not hourly
                // (StoredFileCollectionIT); it takes only files idle for 24 h, which the tests' are not.
                "-Dfl.files.collect-interval-seconds=2",
                // A web frontend on another origin may call the API (CorsIT).
                "-Dfl.cors.allowed-origins=" + CORS_ORIGIN);
    }

    /**
     * For a test that runs servers of its own on the test database: a new schema there, as the JDBC
     * URL that makes it the current one. The shared server stays on its own schema, so its workers
     * never take such a test's jobs or deadlines.
     */
    static String newSchema(String prefix) throws SQLException {
        String schema = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = DriverManager.getConnection(jdbcUrl, "fl", "fl"); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        return jdbcUrl + (jdbcUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    /**
     * A server of a test's own ({@code name}, log {@code work/<name>-server.log}) with these -D
     * properties, a fresh Payara root directory and the run command's pre-boot commands.
     */
    static PayaraMicroProcess startOwnServer(Path work, List<String> properties, String name) throws Exception {
        List<String> jvm = new ArrayList<>(List.of("-Xmx768m", VECTOR_API_OPTION));
        jvm.addAll(properties);
        List<String> micro = new ArrayList<>(List.of("--contextroot", "/", "--rootdir",
                freshDirectory(work.resolve("root-" + name)).toString()));
        micro.addAll(preBootOptions());
        return PayaraMicroProcess.start(work, jvm, micro, work.resolve(name + "-server.log"));
    }

    /** The one origin the test servers allow browsers to call the API from. */
    static final String CORS_ORIGIN = "http://frontend.test:3000";

    /**
     * The JVM option that lets the aggregation fold float32 weights with the JDK's Vector API, as the
     * README's run command passes it (without it the server uses scalar loops, same results).
     */
    static final String VECTOR_API_OPTION = "--add-modules=jdk.incubator.vector";

    /**
     * Where the test servers' inference workers find the TorchScript runtime (README, "Inference
     * runtime"): the jars the build copies to target/inference-libs, and libtorch unpacked once into
     * target/djl-cache for every test JVM. A deadline of 10 s per request keeps the tests of models
     * that never finish short, and workers of 256 MiB heap within 3 GiB of address space keep the
     * tests of models that allocate without bound small. Empty (inference answers 503) if the jars
     * are missing.
     */
    static List<String> inferenceRuntimeProperties() {
        Path libs = Path.of(System.getProperty("it.inference.libs", "target/inference-libs")).toAbsolutePath();
        Path cache = Path.of(System.getProperty("it.djl.cache.dir", "target/djl-cache")).toAbsolutePath();
        if (!Files.isDirectory(libs)) {
            System.err.println("no TorchScript runtime for the test servers: " + libs + " is missing (mvn package)");
            return List.of();
        }
        return List.of("-Dfl.inference.runtime-dir=" + libs, "-Dfl.inference.djl-cache-dir=" + cache,
                "-Dfl.inference.timeout-seconds=" + INFERENCE_TIMEOUT_SECONDS, "-Dfl.inference.worker-heap-mb=256",
                "-Dfl.inference.worker-memory-mb=3072");
    }

    /**
     * The Payara Micro options that apply the run command's pre-boot commands (README, "Deploying the
     * WAR elsewhere"): without them Payara answers an HTTP/1.1 DELETE or GET that carries a body with
     * an empty 400, and the tests would not run against the server as the run command starts it.
     */
    static List<String> preBootOptions() {
        Path file = Path.of(System.getProperty("it.preboot", "src/main/payara/pre-boot-commands.txt")).toAbsolutePath();
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("the pre-boot command file " + file + " is missing");
        }
        return List.of("--prebootcommandfile", file.toString());
    }

    /** The test servers' inference deadline. */
    static final int INFERENCE_TIMEOUT_SECONDS = 10;

    /**
     * An empty Payara root directory. A root directory kept from an earlier run still lists that
     * run's WAR: Payara deploys it at boot and then redeploys the new one over it, and requests in
     * between meet the old copy or, during the redeploy, 404s.
     */
    static Path freshDirectory(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        return Files.createDirectories(dir);
    }

    private void startServer() throws Exception {
        Path dataDir = Files.createDirectories(DATA_DIRECTORY.toAbsolutePath());
        List<String> jvm = new ArrayList<>();
        jvm.add("-Xmx1g");
        jvm.add(VECTOR_API_OPTION);
        jvm.addAll(serverProperties(dataDir));
        jvm.addAll(inferenceRuntimeProperties());
        // Benchmarks may widen settings for the shared server (a later -D wins), e.g. the upload limit.
        String extra = System.getProperty("it.server.options", "").trim();
        if (!extra.isEmpty()) {
            jvm.addAll(List.of(extra.split("\\s+")));
        }
        List<String> micro = new ArrayList<>(List.of("--contextroot", "/",
                "--rootdir", freshDirectory(workDir.resolve("payara-root")).toString()));
        micro.addAll(preBootOptions());
        payara = PayaraMicroProcess.start(workDir, jvm, micro, workDir.resolve("shared-server.log"));
        baseUrl = payara.baseUrl();
        serverPid = payara.pid();
    }

    /**
     * Arquillian's Payara Micro (one per {@link InContainer} class) gets the same database and
     * runtime (cmdOptions go before -jar), and the same pre-boot commands (extraMicroOptions after it).
     */
    private static void configureArquillian() throws IOException {
        Path dataDir = Files.createDirectories(DATA_DIRECTORY.toAbsolutePath());
        List<String> arquillianJvm = new ArrayList<>(List.of(VECTOR_API_OPTION));
        arquillianJvm.addAll(serverProperties(dataDir));
        arquillianJvm.addAll(inferenceRuntimeProperties());
        System.setProperty("payara.cmdOptions", String.join(" ", arquillianJvm));
        System.setProperty("payara.extraMicroOptions", String.join(" ", preBootOptions()));
    }
}
