package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.net.httpserver.HttpServer;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A whole FedAvg training driven by real PyTorch on the client side.
 *
 * <p>Why: the other end-to-end tests drive the server with Java code that uploads prepared files. Only
 * real torch shows that what the server hands out loads in {@code torch.load}, that what
 * {@code torch.jit.save} writes is accepted as an update, and that the aggregated file is a working,
 * better model. Three Python processes ({@code src/test/python/fl_client.py}) act like the DLR client:
 * each has its own notification endpoint on loopback, trains a TorchScript MLP on a disjoint shard of
 * scikit-learn's digits and reports test metrics. The test then loads the initial and the final
 * global model in PyTorch and requires the final one to be more accurate on held-out digits. A second
 * training (api.md §6.6) has a deadline and a quorum of two: one client hangs in round 1 and is killed with
 * SIGKILL, and the two others must still complete the training with a better model. Two more (api.md
 * §6.7) aggregate with the trimmed mean and with FedAdam, and must also end better than they began.
 *
 * <p>It needs Debian's {@code python3-torch} and {@code python3-sklearn} for {@code /usr/bin/python3}
 * ({@code .ci/run} installs them); without them it fails and says how to install them. Properties:
 * {@code fl.python} (interpreter, default {@code /usr/bin/python3}, not the first {@code python3} on the
 * PATH, which may be a Python without these packages), {@code fl.python.dir} (the scripts), and
 * {@code fl.it.pytorch.timeout} (seconds to wait for the training to complete, default 300).
 */
class PyTorchClientsIT {

    private static final String PYTHON = System.getProperty("fl.python", "/usr/bin/python3");
    private static final Path SCRIPTS = Path.of(System.getProperty("fl.python.dir", "src/test/python")).toAbsolutePath();
    private static final Duration TIMEOUT = Duration.ofSeconds(Long.getLong("fl.it.pytorch.timeout", 300));
    private static final String INSTALL_HINT = "The PyTorch end-to-end test needs Debian's python3-torch and"
            + " python3-sklearn for " + PYTHON + ": apt-get install -y --no-install-recommends python3-torch"
            + " python3-sklearn (.ci/run does this), or name another interpreter with -Dfl.python=...";

    private static final int CLIENTS = 3;
    private static final int ROUNDS = 3;
    private static final int EPOCHS = 5;
    /**
     * The training with a killed client (round options, api.md §6.6): two rounds, the last client killed in round 1, each
     * phase closing at the latest 15 s after it opened — ample for a live client's round on a busy machine
     * (about a second), and paid twice: the updates of round 1 and the metrics of test round 2 wait for it.
     */
    private static final int DEADLINE_ROUNDS = 2;
    private static final int KILLED_IN_ROUND = 1;
    private static final int DEADLINE_SECONDS = 15;

    private final ApiClient api = new ApiClient();

    @BeforeAll
    static void pythonHasTorchAndScikitLearn() throws Exception {
        Run check;
        try {
            check = python(Duration.ofSeconds(120), SCRIPTS,
                    "-c", "import torch, sklearn; print('torch', torch.__version__, 'sklearn', sklearn.__version__)");
        } catch (IOException e) {
            throw new AssertionError(INSTALL_HINT + " (" + e.getMessage() + ")", e);
        }
        if (check.exit() != 0) {
            fail(INSTALL_HINT + "\n" + check.output());
        }
        System.out.println("PyTorchClientsIT: " + PYTHON + ": " + check.output().strip());
    }

    /** The client's side of the contract on its own, against a stand-in server (test_fl_client.py). */
    @Test
    void clientBehavesLikeTheReferenceClient() throws Exception {
        Run run = python(Duration.ofSeconds(180), SCRIPTS, "-m", "unittest", "-v", "test_fl_client");
        assertEquals(0, run.exit(), run.output());
    }

    @Test
    void threeTorchClientsImproveTheModelWithFedAvg() throws Exception {
        withClients("pytorch-", (work, actor, clients, actorInbox) -> {
            startClients(work, clients, null);
            Path initial = work.resolve("initial.pt");
            String model = uploadInitialModel(actor, initial);
            String training = createAndStart(actor, model, ROUNDS, null, clients);

            JsonObject done = awaitFinished(training, actor, clients, actorInbox);
            assertBetterThanInitial(model, actor, work, initial, "after " + ROUNDS + " rounds");

            assertEquals(ROUNDS, api.get("/api/models/" + model + "/metadata/", actor).json().getInt("round"),
                    "the final global model's round");
            assertEquals(model, done.getString("model"), "the training runs on the uploaded model (no clone)");
            for (PythonClient c : clients) {
                checkClientHistory(c, training, model, ROUNDS);
            }
            checkStoredMetrics(model, actor, clients);
            assertEquals(List.of(new Notification("TRAINING_FINISHED", training, model)), actorInbox,
                    "the actor (not a participant) gets TRAINING_FINISHED only");
        });
    }

    /**
     * Aggregation options (api.md §6.7): the same clients' training aggregated by a robust rule (trimmed mean
     * dropping one update at each end per coordinate, β = 0.34 of three) and by a server optimizer
     * (FedAdam on the mean), each to a model more accurate than the initial one. Two rounds each, to
     * keep the added run time small.
     */
    @Test
    void torchClientsImproveTheModelWithTrimmedMeanAndWithFedAdam() throws Exception {
        String[][] trainings = {
            {"trimmed_mean", "{\"aggregation\": {\"rule\": \"trimmed_mean\", \"trim_fraction\": 0.34}}"},
            {"adam", "{\"server_optimizer\": {\"name\": \"adam\", \"lr\": 0.03, \"tau\": 0.001}}"},
        };
        for (String[] t : trainings) {
            withClients("pytorch-" + t[0] + "-", (work, actor, clients, actorInbox) -> {
                startClients(work, clients, null);
                Path initial = work.resolve("initial.pt");
                String model = uploadInitialModel(actor, initial);
                String training = createAndStart(actor, model, DEADLINE_ROUNDS, t[1], clients);
                awaitFinished(training, actor, clients, actorInbox);
                assertBetterThanInitial(model, actor, work, initial, "after " + DEADLINE_ROUNDS + " rounds with "
                        + t[0]);
                JsonArray history = api.get("/api/trainings/" + training + "/provenance/", actor).array();
                JsonObject last = history.getJsonObject(history.size() - 1);
                assertTrue(last.containsKey(t[0].equals("adam") ? "server_optimizer" : "aggregation"),
                        "provenance records what " + t[0] + " did: " + last);
            });
        }
    }

    /**
     * A site whose client dies mid-training: one client hangs in round 1 (it accepts the round and
     * never uploads) and is then killed with SIGKILL, in a training with a deadline and a quorum below the participant count.
     * Round 1 and test round 2 close at their deadlines with the two live clients' updates and metrics,
     * and the training completes with a model better than the initial one.
     */
    @Test
    void aClientKilledInTheMiddleOfATrainingWithADeadlineDoesNotStopIt() throws Exception {
        withClients("pytorch-killed-", (work, actor, clients, actorInbox) -> {
            startClients(work, clients, KILLED_IN_ROUND);
            PythonClient killed = clients.get(CLIENTS - 1);
            List<PythonClient> live = clients.subList(0, CLIENTS - 1);
            Path initial = work.resolve("initial.pt");
            String model = uploadInitialModel(actor, initial);
            String training = createAndStart(actor, model, DEADLINE_ROUNDS, "{\"round_timeout_seconds\": "
                    + DEADLINE_SECONDS + ", \"min_participants\": " + (CLIENTS - 1) + "}", clients);

            killed.awaitStatus(s -> s.getBoolean("stalled"), TIMEOUT, "the client to stall in round " + KILLED_IN_ROUND);
            // the server has recorded the client's 202 for that round: it was invited, accepted, then died
            TrainingDriver.awaitCondition(() -> sentRoundStarts(killed) == KILLED_IN_ROUND + 1,
                    "the server records the delivery of UPDATE_ROUND_START " + KILLED_IN_ROUND);
            killed.kill();

            JsonObject done = awaitFinished(training, actor, live, actorInbox);
            assertBetterThanInitial(model, actor, work, initial, "after " + DEADLINE_ROUNDS + " rounds, one of "
                    + CLIENTS + " clients killed in round " + KILLED_IN_ROUND + " (deadline " + DEADLINE_SECONDS
                    + " s, quorum " + (CLIENTS - 1) + ")");
            assertEquals("C", done.getString("state"));
            assertEquals(DEADLINE_ROUNDS, api.get("/api/models/" + model + "/metadata/", actor).json().getInt("round"),
                    "the final global model's round");

            for (PythonClient c : live) {
                checkClientHistory(c, training, model, DEADLINE_ROUNDS);
            }
            JsonObject last = killed.status();
            List<String> received = new ArrayList<>();
            for (JsonValue v : last.getJsonArray("notifications")) {
                Notification n = Notification.of(v.asJsonObject());
                received.add(n.round() == null ? n.type() : n.type() + ":" + n.round());
            }
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1",
                    "UPDATE_ROUND_START:" + KILLED_IN_ROUND), received, "what the killed client received before it died");
            assertEquals(1, last.getJsonArray("uploads").size(), "the killed client's uploads");

            // provenance: round 0's version has all three updates, the rounds after the kill only the live ones
            JsonArray history = api.get("/api/trainings/" + training + "/provenance/", actor).array();
            assertEquals(DEADLINE_ROUNDS + 1, history.size(), history.toString());
            for (int version = 1; version <= DEADLINE_ROUNDS; version++) {
                List<String> owners = new ArrayList<>();
                for (JsonValue u : history.getJsonObject(version).getJsonArray("updates")) {
                    owners.add(u.asJsonObject().getString("owner_username"));
                }
                List<PythonClient> used = version <= KILLED_IN_ROUND ? clients : live;
                assertEquals(used.stream().map(c -> c.account.username()).sorted().toList(),
                        owners.stream().sorted().toList(), "the updates of version " + version);
            }
            assertEquals(List.of(new Notification("TRAINING_FINISHED", training, model)), actorInbox,
                    "the actor (not a participant) gets TRAINING_FINISHED only");
        });
    }

    /** What a test does with its folder, its actor, the Python clients it starts and the actor's inbox. */
    private interface Scenario {
        void run(Path work, Account actor, List<PythonClient> clients, List<Notification> actorInbox) throws Exception;
    }

    /**
     * Runs a scenario with a fresh folder and an actor whose endpoint records its notifications; on a
     * failure it prints the clients' logs, and it always stops the clients and the endpoint.
     */
    private void withClients(String folderPrefix, Scenario scenario) throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it", folderPrefix + UUID.randomUUID().toString()
                .substring(0, 8)).toAbsolutePath());
        List<Notification> actorInbox = new CopyOnWriteArrayList<>();
        HttpServer actorEndpoint = recordingEndpoint(actorInbox);
        List<PythonClient> clients = new ArrayList<>();
        try {
            Account actor = api.createUser("torch-actor", endpointUrl(actorEndpoint.getAddress().getPort()));
            scenario.run(work, actor, clients, actorInbox);
        } catch (Throwable t) {
            System.out.println("PyTorchClientsIT failed (" + t + "); the clients' logs follow.");
            for (PythonClient c : clients) {
                c.printLogs();
            }
            System.out.println("actor endpoint received: " + actorInbox);
            throw t;
        } finally {
            for (PythonClient c : clients) {
                c.stop();
            }
            actorEndpoint.stop(0);
        }
    }

    /** Waits until the training completed, the clients had TRAINING_FINISHED and the actor its notification. */
    private JsonObject awaitFinished(String training, Account actor, List<PythonClient> clients,
                                     List<Notification> actorInbox) throws Exception {
        JsonObject done = awaitCompletion(training, actor, clients);
        for (PythonClient c : clients) {
            c.awaitStatus(s -> s.getBoolean("finished"), Duration.ofSeconds(120), "TRAINING_FINISHED");
        }
        awaitActorNotification(actorInbox, Duration.ofSeconds(120));
        return done;
    }

    /** Loads the initial and the final global model in PyTorch; the final one must be more accurate. */
    private void assertBetterThanInitial(String model, Account actor, Path work, Path initial, String what)
            throws Exception {
        Path fin = work.resolve("final.pt");
        HttpResponse<byte[]> download = api.download("/api/models/" + model + "/", actor);
        assertEquals(200, download.statusCode(), "final model download");
        Files.write(fin, download.body());
        JsonObject before = evaluate(initial);
        JsonObject after = evaluate(fin);
        System.out.printf("PyTorchClientsIT: held-out accuracy %.4f -> %.4f (loss %.4f -> %.4f) %s%n",
                before.getJsonNumber("accuracy").doubleValue(), after.getJsonNumber("accuracy").doubleValue(),
                before.getJsonNumber("loss").doubleValue(), after.getJsonNumber("loss").doubleValue(), what);
        assertTrue(after.getJsonNumber("accuracy").doubleValue() > before.getJsonNumber("accuracy").doubleValue(),
                "the final global model must beat the initial one on held-out data: " + before + " vs " + after);
    }

    /** Starts the Python clients and waits until they listen; the last one stalls in {@code stallAtRound} if set. */
    private void startClients(Path work, List<PythonClient> clients, Integer stallAtRound) throws Exception {
        for (int i = 0; i < CLIENTS; i++) {
            int port = freePort();
            Account user = api.createUser("torch-client" + i, endpointUrl(port));
            clients.add(PythonClient.start(user, port, i, work.resolve("client-" + i), api.base(),
                    i == CLIENTS - 1 ? stallAtRound : null));
        }
        for (PythonClient c : clients) {
            c.awaitStatus(s -> s.getBoolean("ready"), Duration.ofSeconds(120), "the client to listen");
        }
    }

    /** Writes the initial TorchScript MLP with PyTorch into {@code initial} and uploads it; the model's id. */
    private String uploadInitialModel(Account actor, Path initial) throws Exception {
        Run made = python(Duration.ofSeconds(120), SCRIPTS, "make_initial_model.py", initial.toString());
        assertEquals(0, made.exit(), made.output());
        Multipart upload = new Multipart().field("name", "digits-mlp")
                .field("description", "TorchScript MLP 64-32-10 for scikit-learn's digits")
                .file("model_file", "digits-mlp.pt", Files.readAllBytes(initial));
        Reply uploaded = api.sendBytes("POST", "/api/models/", actor.tokenHeader(), upload.contentType(),
                upload.bytes());
        assertEquals(201, uploaded.status(), uploaded.toString());
        return uploaded.json().getString("model_id");
    }

    /** Creates a FedAvg training of the clients with these options (null: none) and starts it; the training's id. */
    private String createAndStart(Account actor, String model, int rounds, String options, List<PythonClient> clients) {
        StringBuilder ids = new StringBuilder();
        for (PythonClient c : clients) {
            ids.append(ids.length() > 0 ? ", " : "").append('"').append(c.account.id()).append('"');
        }
        Reply created = api.postJson("/api/trainings/", actor, "{\"model_id\": \"" + model + "\","
                + " \"target_num_updates\": " + rounds + ", \"metric_names\": [\"accuracy\"],"
                + " \"aggregation_method\": \"FedAvg\"" + (options == null ? "" : ", \"options\": " + options)
                + ", \"clients\": [" + ids + "]}");
        assertEquals(201, created.status(), created.toString());
        String training = created.json().getString("training_id");
        Reply started = api.postJson("/api/trainings/" + training + "/start/", actor, null);
        assertEquals(202, started.status(), started.toString());
        return training;
    }

    /** How many UPDATE_ROUND_START notifications the client answered with a 2xx, as the server recorded them. */
    private static long sentRoundStarts(PythonClient c) {
        try {
            return TrainingDriver.count("SELECT COUNT(*) FROM notification WHERE receiver_id = ?"
                    + " AND type = 'UPDATE_ROUND_START' AND status = 'SENT'", c.account.id().toString());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Polls the training until it is completed; fails on state E, on a client error or a dead client. */
    private JsonObject awaitCompletion(String training, Account actor, List<PythonClient> clients) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        JsonObject t = null;
        while (System.nanoTime() < deadline) {
            Reply r = api.get("/api/trainings/" + training + "/", actor);
            assertEquals(200, r.status(), r.toString());
            t = r.json();
            String state = t.getString("state");
            if (state.equals("C")) {
                return t;
            }
            if (state.equals("E")) {
                fail("the training went into state E: " + t);
            }
            for (PythonClient c : clients) {
                c.failOnError();
            }
            Thread.sleep(500);
        }
        StringBuilder seen = new StringBuilder();
        int notifications = 0;
        for (PythonClient c : clients) {
            JsonObject s = c.status();
            notifications += s == null ? 0 : s.getJsonArray("notifications").size();
            seen.append("\n  ").append(c.account.username()).append(": ")
                    .append(s == null ? "no status" : s.getJsonArray("notifications").size() + " notifications, "
                            + s.getJsonArray("uploads").size() + " uploads, " + s.getJsonArray("metrics").size()
                            + " metric reports");
        }
        throw new AssertionError("the training did not complete within " + TIMEOUT.toSeconds()
                + " s (-Dfl.it.pytorch.timeout=SECONDS)"
                + (notifications == 0 ? "; no client received any notification after the start" : "")
                + "; last seen: " + t + seen);
    }

    /**
     * The notifications of docs/api.md §8 in the order of §7.2 (with TRAINING_START first, §15.8), and every
     * update and metric report answered with 201.
     */
    private static void checkClientHistory(PythonClient c, String training, String model, int rounds) {
        JsonObject s = c.status();
        List<Notification> expected = new ArrayList<>();
        expected.add(new Notification("TRAINING_START", training, model));
        for (int r = 0; r < rounds; r++) {
            expected.add(new Notification("UPDATE_ROUND_START", training, model, r));
            expected.add(new Notification("MODEL_TEST_ROUND", training, model, r + 1));
        }
        expected.add(new Notification("TRAINING_FINISHED", training, model));
        List<Notification> seen = new ArrayList<>();
        for (JsonValue v : s.getJsonArray("notifications")) {
            seen.add(Notification.of(v.asJsonObject()));
        }
        assertEquals(expected, seen, c.account.username() + "'s notifications");
        assertEquals(List.of(), strings(s.getJsonArray("errors")), c.account.username() + "'s errors");
        List<Integer> uploadRounds = new ArrayList<>();
        for (JsonValue v : s.getJsonArray("uploads")) {
            assertEquals(201, v.asJsonObject().getInt("status"));
            uploadRounds.add(v.asJsonObject().getInt("round"));
        }
        assertEquals(IntStream.range(0, rounds).boxed().toList(), uploadRounds, c.account.username() + "'s uploads");
        List<Integer> testRounds = new ArrayList<>();
        for (JsonValue v : s.getJsonArray("metrics")) {
            assertEquals(201, v.asJsonObject().getInt("status"));
            testRounds.add(v.asJsonObject().getInt("round"));
        }
        assertEquals(IntStream.rangeClosed(1, rounds).boxed().toList(), testRounds,
                c.account.username() + "'s metric reports");
    }

    /** What the clients reported in the test rounds is stored on the global model, one per client and step. */
    private void checkStoredMetrics(String model, Account actor, List<PythonClient> clients) {
        Reply r = api.get("/api/models/" + model + "/metrics/", actor);
        assertEquals(200, r.status(), r.toString());
        JsonArray stored = r.array();
        for (PythonClient c : clients) {
            for (JsonValue v : c.status().getJsonArray("metrics")) {
                JsonObject reported = v.asJsonObject();
                int step = reported.getInt("round");
                List<Double> values = new ArrayList<>();
                for (JsonValue m : stored) {
                    JsonObject o = m.asJsonObject();
                    if (o.getString("key").equals("accuracy") && o.getInt("step") == step
                            && o.getString("reporter").equals(c.account.id().toString())) {
                        values.add(o.getJsonNumber("value_float").doubleValue());
                    }
                }
                assertEquals(List.of(reported.getJsonNumber("accuracy").doubleValue()), values,
                        c.account.username() + "'s accuracy for step " + step + " in " + stored);
            }
        }
    }

    private static void awaitActorNotification(List<Notification> inbox, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (inbox.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
    }

    private static JsonObject evaluate(Path modelFile) throws Exception {
        Run run = python(Duration.ofSeconds(120), SCRIPTS, "evaluate_model.py", modelFile.toString());
        assertEquals(0, run.exit(), run.output());
        String[] lines = run.output().strip().split("\n");
        return parse(lines[lines.length - 1]);
    }

    // ---------------------------------------------------------------- helpers

    /** One notification as the tests compare them: type, training, model and round (null if none). */
    record Notification(String type, String training, String model, Integer round) {
        Notification(String type, String training, String model) {
            this(type, training, model, null);
        }

        static Notification of(JsonObject o) {
            return new Notification(o.getString("type"), o.getString("training_uuid"),
                    o.isNull("global_model_uuid") ? null : o.getString("global_model_uuid"),
                    o.isNull("round") ? null : o.getInt("round"));
        }
    }

    /** A loopback HTTP endpoint that records notifications and answers 200, for the actor. */
    private static HttpServer recordingEndpoint(List<Notification> inbox) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                JsonObject o = parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                JsonObject body = o.getJsonObject("body");
                inbox.add(new Notification(o.getString("notification_type"), o.getString("training_uuid"),
                        body.getString("global_model_uuid", null),
                        body.get("round") instanceof JsonNumber n ? n.intValue() : null));
                exchange.sendResponseHeaders(200, -1);
            } catch (RuntimeException e) {
                exchange.sendResponseHeaders(500, -1);
            } finally {
                exchange.close();
            }
        });
        server.start();
        return server;
    }

    private static String endpointUrl(int port) {
        return "http://127.0.0.1:" + port + "/";
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static JsonObject parse(String json) {
        try (JsonReader r = Json.createReader(new StringReader(json))) {
            return r.readObject();
        }
    }

    private static List<String> strings(JsonArray a) {
        List<String> l = new ArrayList<>();
        for (JsonValue v : a) {
            l.add(v.toString());
        }
        return l;
    }

    /** A finished Python command: exit code and everything it printed. */
    record Run(int exit, String output) {
    }

    private static ProcessBuilder pythonProcess(Path dir, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(PYTHON);
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("PYTHONDONTWRITEBYTECODE", "1");  // no __pycache__ in the source tree
        env.put("PYTHONUNBUFFERED", "1");
        return pb;
    }

    private static Run python(Duration limit, Path dir, String... args) throws IOException, InterruptedException {
        Process p = pythonProcess(dir, List.of(args)).start();
        p.getOutputStream().close();
        // The outputs here are small; read them fully, then collect the exit code.
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(PYTHON + " " + String.join(" ", args) + " did not finish in " + limit);
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** One running fl_client.py with its user, folder (client.log, status.json, output.log) and process. */
    private static final class PythonClient {
        final Account account;
        final Path dir;
        final Process process;

        private PythonClient(Account account, Path dir, Process process) {
            this.account = account;
            this.dir = dir;
            this.process = process;
        }

        static PythonClient start(Account account, int port, int shard, Path dir, String server, Integer stallAtRound)
                throws IOException {
            Files.createDirectories(dir);
            List<String> args = new ArrayList<>(List.of("fl_client.py", "--server", server,
                    "--username", account.username(), "--password", account.password(),
                    "--user-id", account.id().toString(), "--port", Integer.toString(port),
                    "--shard", Integer.toString(shard), "--shards", Integer.toString(CLIENTS),
                    "--epochs", Integer.toString(EPOCHS), "--dir", dir.toString(),
                    // stdin stays a pipe: if this JVM dies, the client sees EOF and exits.
                    "--exit-on-stdin-eof", "--max-seconds", Long.toString(TIMEOUT.toSeconds() + 600)));
            if (stallAtRound != null) {
                args.addAll(List.of("--stall-at-round", stallAtRound.toString()));
            }
            Process p = pythonProcess(SCRIPTS, args).redirectOutput(dir.resolve("output.log").toFile()).start();
            return new PythonClient(account, dir, p);
        }

        /** Kills the client the way a crash does: SIGKILL, its notification endpoint gone with it. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), account.username() + " did not die");
        }

        JsonObject status() {
            try {
                return parse(Files.readString(dir.resolve("status.json")));
            } catch (IOException | RuntimeException e) {
                return null;  // not written yet (it is replaced atomically, never half-written)
            }
        }

        void awaitStatus(Predicate<JsonObject> condition, Duration limit, String what) throws InterruptedException {
            long deadline = System.nanoTime() + limit.toNanos();
            while (System.nanoTime() < deadline) {
                JsonObject s = status();
                if (s != null && condition.test(s)) {
                    return;
                }
                failOnError();
                Thread.sleep(100);
            }
            fail(account.username() + ": waited " + limit.toSeconds() + " s for " + what + "; status: " + status());
        }

        void failOnError() {
            if (!process.isAlive()) {
                fail(account.username() + "'s Python process exited with " + process.exitValue());
            }
            JsonObject s = status();
            if (s != null && !s.getJsonArray("errors").isEmpty()) {
                fail(account.username() + " reported errors: " + s.getJsonArray("errors"));
            }
        }

        void printLogs() {
            for (String name : List.of("output.log", "client.log")) {
                Path f = dir.resolve(name);
                try {
                    System.out.println("----- " + account.username() + " " + f + "\n"
                            + (Files.exists(f) ? Files.readString(f) : "(missing)"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }

        /** Closes the client's standard input (it exits by itself), then ends it if it does not. */
        void stop() {
            try {
                process.getOutputStream().close();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroy();
                    if (!process.waitFor(10, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        process.waitFor(10, TimeUnit.SECONDS);
                    }
                }
            } catch (IOException e) {
                process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
