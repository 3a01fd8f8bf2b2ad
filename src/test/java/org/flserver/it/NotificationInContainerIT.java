package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import jakarta.annotation.Priority;
import jakarta.annotation.Resource;
import jakarta.ejb.EJB;
import jakarta.ejb.EJBException;
import jakarta.ejb.EJBTransactionRequiredException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Alternative;
import jakarta.inject.Inject;
import jakarta.interceptor.Interceptor;
import jakarta.json.JsonObject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.transaction.Status;
import jakarta.transaction.TransactionSynchronizationRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.flserver.model.GlobalModel;
import org.flserver.model.StoredFile;
import org.flserver.notification.DeliveryFailed;
import org.flserver.notification.DeliveryRejected;
import org.flserver.notification.HostResolver;
import org.flserver.notification.NotificationEntry;
import org.flserver.notification.NotificationLog;
import org.flserver.notification.NotificationStatus;
import org.flserver.notification.NotificationType;
import org.flserver.notification.Outbox;
import org.flserver.platform.Jsonp;
import org.flserver.training.AggregationMethod;
import org.flserver.training.NewTraining;
import org.flserver.training.Training;
import org.flserver.training.TrainingService;
import org.flserver.user.NewUser;
import org.flserver.user.User;
import org.flserver.user.UserService;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.Test;

/**
 * In-container tests (Arquillian, Payara Micro, PostgreSQL) of the notification outbox and its
 * dispatcher, against receivers that are loopback HTTP servers started by the test: what goes over
 * the wire (the exact JSON, a Content-Length, never chunked), the order per receiver while
 * different receivers are served in parallel, rejections (final, one event), unreachable
 * receivers (retried with the test server's short back-off, then failed, one event), rolled-back
 * transactions (nothing sent), cancellation, and names that resolve to a refused address at
 * delivery (a test name service stands in for DNS; refused at once, nothing received). The
 * test server runs with
 * {@code fl.notification.retry-delays-seconds=0.2,0.2,0.2,0.2} ({@link IntegrationEnvironment}).
 */
@InContainer
class NotificationInContainerIT {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @Deployment
    static WebArchive deployment() {
        return Deployments.builtWar().addClasses(RecordedEvents.class, RecordedEvents.Seen.class, Receiver.class,
                Received.class, Answer.class, TestNames.class);
    }

    @EJB
    Outbox outbox;

    @EJB
    NotificationLog log;

    @EJB
    UserService users;

    @EJB
    TrainingService trainings;

    @EJB
    TestTransactions transactions;

    @Inject
    RecordedEvents events;

    @Inject
    TestNames names;

    @PersistenceContext
    EntityManager em;

    @Test
    void theExactJsonArrivesWithAContentLengthInOrderPerReceiverAndReceiversInParallel() throws Exception {
        try (Receiver receiver = new Receiver()) {
            CountDownLatch releaseSlow = new CountDownLatch(1);
            receiver.answer("/slow", firstHeldUntil(releaseSlow, 200));
            receiver.answer("/quick", index -> index == 0 ? 202 : 200);
            User slow = newUser(receiver.url("/slow"));
            User quick = newUser(receiver.url("/quick"));
            Training training = newTraining();
            UUID model = UUID.randomUUID();
            transactions.run(() -> {
                send(training, slow, NotificationType.TRAINING_START, start(model));
                send(training, slow, NotificationType.UPDATE_ROUND_START, round(1, model));
                send(training, quick, NotificationType.TRAINING_START, start(model));
                send(training, quick, NotificationType.UPDATE_ROUND_START, round(1, model));
            });

            // The quick receiver gets both while the slow one still holds its first request ...
            await("both notifications at the quick receiver", () -> receiver.at("/quick").size() == 2);
            await("the first notification at the slow receiver", () -> receiver.at("/slow").size() == 1);
            Thread.sleep(500);
            // ... and the slow one's second waits until the first has been answered.
            assertEquals(1, receiver.at("/slow").size());
            releaseSlow.countDown();
            await("the second notification at the slow receiver", () -> receiver.at("/slow").size() == 2);
            List<Received> atSlow = receiver.at("/slow");
            assertTrue(atSlow.get(1).arrivedNanos > atSlow.get(0).answeredNanos,
                    "the second notification arrived before the first was answered");
            assertEquals(List.of(NotificationType.TRAINING_START.name(), NotificationType.UPDATE_ROUND_START.name()),
                    atSlow.stream().map(r -> typeOf(r.body)).toList());

            String startJson = "{\"notification_type\":\"TRAINING_START\",\"body\":{\"global_model_uuid\":\"" + model
                    + "\"},\"training_uuid\":\"" + training.getId() + "\"}";
            String roundJson = "{\"notification_type\":\"UPDATE_ROUND_START\",\"body\":{\"round\":1,"
                    + "\"global_model_uuid\":\"" + model + "\"},\"training_uuid\":\"" + training.getId() + "\"}";
            for (List<Received> both : List.of(atSlow, receiver.at("/quick"))) {
                assertEquals(startJson, both.get(0).body);
                assertEquals(roundJson, both.get(1).body);
                for (Received r : both) {
                    assertEquals("POST", r.method);
                    assertEquals("HTTP/1.1", r.protocol);
                    assertEquals("application/json", r.contentType);
                    assertEquals(String.valueOf(r.body.getBytes(StandardCharsets.UTF_8).length), r.contentLength);
                    assertNull(r.transferEncoding, "chunked");
                    assertNull(r.authorization);
                }
            }

            List<NotificationEntry> entries = awaitFinal(training, 4);
            assertEquals(List.of(slow.getUsername(), slow.getUsername(), quick.getUsername(), quick.getUsername()),
                    entries.stream().map(NotificationEntry::receiverUsername).toList());
            assertEquals(List.of(NotificationType.TRAINING_START, NotificationType.UPDATE_ROUND_START,
                    NotificationType.TRAINING_START, NotificationType.UPDATE_ROUND_START),
                    entries.stream().map(NotificationEntry::type).toList());
            assertEquals(List.of(200, 200, 202, 200), entries.stream().map(NotificationEntry::httpStatus).toList());
            for (NotificationEntry e : entries) {
                assertEquals(NotificationStatus.SENT, e.status());
                assertEquals(1, e.attempts());
                assertNull(e.lastError());
                assertNotNull(e.finishedAt());
            }
            assertEquals(receiver.url("/slow"), entries.get(0).endpoint());
            assertTrue(events.of(training.getId()).isEmpty());
        }
    }

    @Test
    void aNon2xxAnswerIsRejectedAtOnceAndReportedOnceForARoundNotification() throws Exception {
        try (Receiver receiver = new Receiver()) {
            receiver.answer("/broken", index -> 500);
            User broken = newUser(receiver.url("/broken"));
            Training training = newTraining();
            UUID model = UUID.randomUUID();
            transactions.run(() -> {
                send(training, broken, NotificationType.TRAINING_START, start(model));
                send(training, broken, NotificationType.UPDATE_ROUND_START, round(1, model));
            });
            List<NotificationEntry> entries = awaitFinal(training, 2);
            for (NotificationEntry e : entries) {
                assertEquals(NotificationStatus.REJECTED, e.status());
                assertEquals(500, e.httpStatus());
                assertEquals(1, e.attempts());
            }
            Thread.sleep(1000); // five times the test server's retry delay: no retry comes
            assertEquals(2, receiver.at("/broken").size());

            List<RecordedEvents.Seen> seen = events.of(training.getId());
            assertEquals(1, seen.size(), seen.toString());
            // TRAINING_START is only recorded; the round notification is reported, once
            assertEquals(new DeliveryRejected(entries.get(1).id(), training.getId(), broken.getId(),
                    NotificationType.UPDATE_ROUND_START, 500), seen.get(0).event());
            // inside the transaction that records the outcome, which it already sees
            assertEquals(Status.STATUS_ACTIVE, seen.get(0).transactionStatus());
            assertEquals(NotificationStatus.REJECTED, seen.get(0).rowStatus());
        }
    }

    @Test
    void anUnreachableReceiverIsTriedFiveTimesThenFailedAndReportedOnce() throws Exception {
        User refusing = newUser("http://127.0.0.1:" + closedPort() + "/notify");
        User invalid = newUser("");
        Training training = newTraining();
        UUID model = UUID.randomUUID();
        transactions.run(() -> {
            send(training, refusing, NotificationType.MODEL_TEST_ROUND, round(1, model));
            send(training, refusing, NotificationType.TRAINING_FINISHED, start(model));
            send(training, invalid, NotificationType.SWAG_ROUND_START, round(2, model));
        });
        List<NotificationEntry> entries = awaitFinal(training, 3);
        for (NotificationEntry e : entries) {
            assertEquals(NotificationStatus.FAILED, e.status(), e.toString());
            assertEquals(5, e.attempts(), e.toString());
            assertNull(e.httpStatus());
            assertTrue(e.lastError().endsWith("(try 5 of 5)"), e.lastError());
        }
        assertTrue(entries.get(0).lastError().contains("ConnectException"), entries.get(0).lastError());
        assertTrue(entries.get(2).lastError().startsWith("invalid endpoint"), entries.get(2).lastError());
        // the second notification to the refusing receiver had its tries after the first one's (no durations
        // asserted: the back-off's length is DeliveryPolicyTest's, with a clock of its own)
        assertTrue(entries.get(1).finishedAt().isAfter(entries.get(0).finishedAt()), entries.toString());

        List<RecordedEvents.Seen> seen = events.of(training.getId());
        assertEquals(2, seen.size(), seen.toString());
        assertTrue(seen.contains(new RecordedEvents.Seen(new DeliveryFailed(entries.get(0).id(), training.getId(),
                refusing.getId(), NotificationType.MODEL_TEST_ROUND, entries.get(0).lastError()),
                Status.STATUS_ACTIVE, NotificationStatus.FAILED)), seen.toString());
        assertTrue(seen.contains(new RecordedEvents.Seen(new DeliveryFailed(entries.get(2).id(), training.getId(),
                invalid.getId(), NotificationType.SWAG_ROUND_START, entries.get(2).lastError()),
                Status.STATUS_ACTIVE, NotificationStatus.FAILED)), seen.toString());
    }

    @Test
    void aNameThatResolvesToARefusedAddressAtDeliveryIsRefusedAtOnceAndNothingIsReceived() throws Exception {
        try (Receiver receiver = new Receiver()) {
            int port = receiver.port();
            // signs up while the name points to loopback, then points it at the metadata service
            names.answer("rebind.fl-test.invalid", List.of(List.of(loopback()), List.of(metadata())));
            names.answer("metadata.fl-test.invalid", List.of(List.of(metadata())));
            User rebinding = newUser("http://rebind.fl-test.invalid:" + port + "/r");
            User metadata = newUser("http://metadata.fl-test.invalid:" + port + "/m");
            Training training = newTraining();
            UUID model = UUID.randomUUID();
            transactions.run(() -> {
                send(training, rebinding, NotificationType.TRAINING_START, start(model));
                send(training, rebinding, NotificationType.UPDATE_ROUND_START, round(1, model));
                send(training, metadata, NotificationType.TRAINING_START, start(model));
                send(training, metadata, NotificationType.UPDATE_ROUND_START, round(1, model));
            });
            List<NotificationEntry> entries = awaitFinal(training, 4);

            // the first delivery went to the checked loopback address, with the name as Host
            assertEquals(NotificationStatus.SENT, entries.get(0).status(), entries.get(0).toString());
            assertEquals(1, receiver.received.size(), receiver.received.toString());
            assertEquals("/r", receiver.received.get(0).path);
            assertEquals("rebind.fl-test.invalid:" + port, receiver.received.get(0).host);
            // every later one is refused at once, never tried again, never received
            String refused = "destination refused: %s resolves to 169.254.169.254 (link-local address) (not tried again)";
            for (int i : new int[] {1, 2, 3}) {
                NotificationEntry e = entries.get(i);
                assertEquals(NotificationStatus.FAILED, e.status(), e.toString());
                assertEquals(1, e.attempts(), e.toString());
                assertNull(e.httpStatus());
                assertEquals(String.format(refused, i == 1 ? "rebind.fl-test.invalid" : "metadata.fl-test.invalid"),
                        e.lastError());
            }
            Thread.sleep(1000); // five times the test server's retry delay: no retry comes
            assertEquals(1, receiver.received.size(), receiver.received.toString());
            assertTrue(receiver.at("/m").isEmpty());

            // round notifications are reported like an unreachable receiver's, once each
            List<RecordedEvents.Seen> seen = events.of(training.getId());
            assertEquals(2, seen.size(), seen.toString());
            assertTrue(seen.contains(new RecordedEvents.Seen(new DeliveryFailed(entries.get(1).id(), training.getId(),
                    rebinding.getId(), NotificationType.UPDATE_ROUND_START, entries.get(1).lastError()),
                    Status.STATUS_ACTIVE, NotificationStatus.FAILED)), seen.toString());
            assertTrue(seen.contains(new RecordedEvents.Seen(new DeliveryFailed(entries.get(3).id(), training.getId(),
                    metadata.getId(), NotificationType.UPDATE_ROUND_START, entries.get(3).lastError()),
                    Status.STATUS_ACTIVE, NotificationStatus.FAILED)), seen.toString());
        }
    }

    @Test
    void aRolledBackTransactionSendsNothing() throws Exception {
        try (Receiver receiver = new Receiver()) {
            User user = newUser(receiver.url("/r"));
            Training training = newTraining();
            UUID model = UUID.randomUUID();
            assertThrows(EJBException.class, () -> transactions.run(() -> {
                send(training, user, NotificationType.TRAINING_START, start(model));
                throw new IllegalStateException("roll the state change back");
            }));
            transactions.run(() -> send(training, user, NotificationType.UPDATE_ROUND_START, round(1, model)));
            List<NotificationEntry> entries = awaitFinal(training, 1);
            assertEquals(NotificationType.UPDATE_ROUND_START, entries.get(0).type());
            Thread.sleep(500);
            assertEquals(List.of("UPDATE_ROUND_START"), receiver.at("/r").stream().map(r -> typeOf(r.body)).toList());
        }
    }

    @Test
    void cancelDropsAReceiversPendingNotificationsAndCancelAllATrainings() throws Exception {
        try (Receiver receiver = new Receiver()) {
            CountDownLatch release = new CountDownLatch(1);
            Answer heldThen500 = firstHeldUntil(release, 500);
            Answer heldThen200 = firstHeldUntil(release, 200);
            receiver.answer("/removed", heldThen500);
            receiver.answer("/kept", heldThen200);
            receiver.answer("/failed-a", heldThen500);
            receiver.answer("/failed-b", heldThen500);
            User removed = newUser(receiver.url("/removed"));
            User kept = newUser(receiver.url("/kept"));
            User failedA = newUser(receiver.url("/failed-a"));
            User failedB = newUser(receiver.url("/failed-b"));
            Training training = newTraining();
            Training failing = newTraining();
            UUID model = UUID.randomUUID();
            transactions.run(() -> {
                for (User u : List.of(removed, kept)) {
                    send(training, u, NotificationType.UPDATE_ROUND_START, round(1, model));
                    send(training, u, NotificationType.MODEL_TEST_ROUND, round(1, model));
                    send(training, u, NotificationType.TRAINING_FINISHED, start(model));
                }
                send(failing, failedA, NotificationType.UPDATE_ROUND_START, round(1, model));
                send(failing, failedA, NotificationType.MODEL_TEST_ROUND, round(1, model));
                send(failing, failedB, NotificationType.UPDATE_ROUND_START, round(1, model));
            });
            await("the first notification of each receiver", () -> receiver.received.size() == 4);

            transactions.run(() -> outbox.cancel(training.getId(), removed.getId()));
            transactions.run(() -> outbox.cancelAll(failing.getId()));
            release.countDown();

            List<NotificationEntry> entries = awaitFinal(training, 6);
            List<NotificationEntry> cancelledTraining = awaitFinal(failing, 3);
            await("the kept receiver's three notifications", () -> receiver.at("/kept").size() == 3);
            Thread.sleep(500);
            assertEquals(1, receiver.at("/removed").size());
            assertEquals(1, receiver.at("/failed-a").size());
            assertEquals(1, receiver.at("/failed-b").size());
            for (NotificationEntry e : entries) {
                assertEquals(e.receiverId().equals(removed.getId()) ? NotificationStatus.CANCELLED : NotificationStatus.SENT,
                        e.status(), e.toString());
            }
            for (NotificationEntry e : cancelledTraining) {
                assertEquals(NotificationStatus.CANCELLED, e.status(), e.toString());
                assertNull(e.httpStatus()); // the 500 that came after the cancellation is not recorded
            }
            // ... and has no consequences
            assertTrue(events.of(training.getId()).isEmpty());
            assertTrue(events.of(failing.getId()).isEmpty());
        }
    }

    @Test
    void theOutboxOnlyWorksInsideTheStateChangesTransaction() {
        User user = newUser("http://127.0.0.1:9/");
        Training training = newTraining();
        assertThrows(EJBTransactionRequiredException.class,
                () -> outbox.send(training, user, NotificationType.TRAINING_START, start(UUID.randomUUID())));
        assertThrows(EJBTransactionRequiredException.class, () -> outbox.cancelAll(training.getId()));
        assertTrue(log.forTraining(training.getId()).isEmpty());
    }

    // --- helpers ---------------------------------------------------------------------------------

    /** Queues inside the caller's transaction, with the entities of that transaction. */
    private void send(Training training, User receiver, NotificationType type, JsonObject body) {
        outbox.send(em.find(Training.class, training.getId()), em.find(User.class, receiver.getId()), type, body);
    }

    private static JsonObject start(UUID model) {
        return Jsonp.createObjectBuilder().add("global_model_uuid", model.toString()).build();
    }

    private static JsonObject round(int round, UUID model) {
        return Jsonp.createObjectBuilder().add("round", round).add("global_model_uuid", model.toString()).build();
    }

    private static String typeOf(String body) {
        try (var reader = Jsonp.createReader(new java.io.StringReader(body))) {
            return reader.readObject().getString("notification_type");
        }
    }

    private User newUser(String endpoint) {
        return users.create(new NewUser("nt-" + UUID.randomUUID(), "pw", "", "", "", false, true, endpoint));
    }

    private Training newTraining() {
        User owner = users.create(new NewUser("nt-" + UUID.randomUUID(), "pw", "", "", "", true, false, ""));
        UUID model = transactions.call(() -> {
            GlobalModel m = new GlobalModel(em.find(User.class, owner.getId()), 0, "net", "a model");
            m.setWeights(new StoredFile("e".repeat(64), 10));
            em.persist(m);
            em.flush();
            return m.getId();
        });
        return trainings.create(owner.getId(),
                new NewTraining(model, 1, List.of(), AggregationMethod.FED_AVG, null, null, List.of()));
    }

    /** The training's log once it has {@code count} entries, all with a final status. */
    private List<NotificationEntry> awaitFinal(Training training, int count) throws InterruptedException {
        await(count + " notifications of training " + training.getId() + " settled", () -> {
            List<NotificationEntry> entries = log.forTraining(training.getId());
            return entries.size() == count && entries.stream().allMatch(e -> e.status().isFinal());
        });
        return log.forTraining(training.getId());
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(25);
        }
    }

    private static InetAddress loopback() throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    }

    private static InetAddress metadata() throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {(byte) 169, (byte) 254, (byte) 169, (byte) 254});
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** How a test receiver answers its {@code index}-th request (0 for the first); may block. */
    interface Answer {
        int status(int index) throws InterruptedException;
    }

    /** Answers {@code status}, the first request only once {@code release} is counted down. */
    private static Answer firstHeldUntil(CountDownLatch release, int status) {
        return index -> {
            if (index == 0) {
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            return status;
        };
    }

    /** One request as a receiver saw it. */
    static final class Received {
        final String path;
        final String host;
        final String method;
        final String protocol;
        final String contentType;
        final String contentLength;
        final String transferEncoding;
        final String authorization;
        final String body;
        final long arrivedNanos = System.nanoTime();
        volatile long answeredNanos;

        Received(HttpExchange exchange, String body) {
            var headers = exchange.getRequestHeaders();
            this.path = exchange.getRequestURI().getPath();
            this.host = headers.getFirst("Host");
            this.method = exchange.getRequestMethod();
            this.protocol = exchange.getProtocol();
            this.contentType = headers.getFirst("Content-Type");
            this.contentLength = headers.getFirst("Content-Length");
            this.transferEncoding = headers.getFirst("Transfer-Encoding");
            this.authorization = headers.getFirst("Authorization");
            this.body = body;
        }
    }

    /** A participant's notification endpoint on loopback: one server, one path per receiver. */
    static final class Receiver implements AutoCloseable {
        final List<Received> received = new CopyOnWriteArrayList<>();
        private final Map<String, Answer> answers = new ConcurrentHashMap<>();
        private final HttpServer server;
        private final ExecutorService threads = Executors.newCachedThreadPool();

        Receiver() throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", this::handle);
            server.setExecutor(threads);
            server.start();
        }

        void answer(String path, Answer answer) {
            answers.put(path, answer);
        }

        String url(String path) {
            return "http://127.0.0.1:" + port() + path;
        }

        int port() {
            return server.getAddress().getPort();
        }

        List<Received> at(String path) {
            return received.stream().filter(r -> r.path.equals(path)).toList();
        }

        private void handle(HttpExchange exchange) throws IOException {
            Received r = new Received(exchange,
                    new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            int index = at(r.path).size();
            received.add(r);
            int status;
            try {
                status = answers.getOrDefault(r.path, i -> 200).status(index);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                status = 503;
            }
            r.answeredNanos = System.nanoTime();
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        }

        @Override
        public void close() {
            server.stop(0);
            threads.shutdownNow();
        }
    }

    /**
     * The test deployment's name service: names the test gives answers for resolve to them (each
     * answer in turn, the last one repeating), without asking any real name service; every other
     * name goes to the JDK's, as in production.
     */
    @Alternative
    @Priority(Interceptor.Priority.APPLICATION + 100)
    @ApplicationScoped
    public static class TestNames extends HostResolver {

        private final Map<String, Deque<List<InetAddress>>> answers = new ConcurrentHashMap<>();

        /** Not final, nor varargs with @SafeVarargs: CDI proxies the bean. */
        void answer(String name, List<List<InetAddress>> inTurn) {
            answers.put(name, new ConcurrentLinkedDeque<>(inTurn));
        }

        @Override
        public List<InetAddress> resolve(String host) throws UnknownHostException {
            Deque<List<InetAddress>> queue = answers.get(host);
            if (queue == null) {
                return super.resolve(host);
            }
            List<InetAddress> next = queue.size() > 1 ? queue.poll() : queue.peek();
            if (next == null) {
                throw new UnknownHostException(host);
            }
            return next;
        }
    }

    /**
     * Observes the delivery events in the test deployment, as the round engine would, noting the
     * transaction they arrive in and the notification's status as that transaction sees it.
     */
    @ApplicationScoped
    public static class RecordedEvents {

        public record Seen(Object event, int transactionStatus, NotificationStatus rowStatus) {
        }

        private final List<Seen> seen = new CopyOnWriteArrayList<>();

        @Resource
        TransactionSynchronizationRegistry transaction;

        @PersistenceContext
        EntityManager em;

        void rejected(@Observes DeliveryRejected event) {
            seen.add(new Seen(event, transaction.getTransactionStatus(), statusOf(event.notificationId())));
        }

        void failed(@Observes DeliveryFailed event) {
            seen.add(new Seen(event, transaction.getTransactionStatus(), statusOf(event.notificationId())));
        }

        private NotificationStatus statusOf(long notificationId) {
            return em.createQuery("SELECT n.status FROM Notification n WHERE n.id = :id", NotificationStatus.class)
                    .setParameter("id", notificationId)
                    .getSingleResult();
        }

        public List<Seen> of(UUID trainingId) {
            return seen.stream().filter(s -> trainingOf(s.event()).equals(trainingId)).toList();
        }

        private static UUID trainingOf(Object event) {
            return event instanceof DeliveryRejected r ? r.trainingId() : ((DeliveryFailed) event).trainingId();
        }
    }
}
