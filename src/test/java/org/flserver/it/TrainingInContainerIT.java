package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jakarta.ejb.EJB;
import jakarta.ejb.EJBException;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.naming.InitialContext;
import javax.naming.NamingException;
import javax.sql.DataSource;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.MeanModel;
import org.flserver.model.SWAGModel;
import org.flserver.model.StoredFile;
import org.flserver.platform.ApiException;
import org.flserver.training.AggregationMethod;
import org.flserver.training.NewTraining;
import org.flserver.training.Training;
import org.flserver.training.TrainingService;
import org.flserver.training.UncertaintyMethod;
import org.flserver.user.NewUser;
import org.flserver.user.User;
import org.flserver.user.UserService;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.Test;

/**
 * In-container tests (Arquillian, Payara Micro, PostgreSQL) of {@link TrainingService}: what a
 * created training looks like in the database, read back with plain JDBC outside the service's
 * transaction. Above all, that the daisy-chain rewrite of {@code TrainingListener} (@PostPersist)
 * really reaches the row (docs/design.md §8), and that refused or rolled-back creations leave no row.
 */
@InContainer
class TrainingInContainerIT {

    @Deployment
    static WebArchive deployment() {
        return Deployments.builtWar();
    }

    @EJB
    TrainingService trainings;

    @EJB
    UserService users;

    @EJB
    TestTransactions transactions;

    @PersistenceContext
    EntityManager em;

    @Test
    void daisyChainPeriodMultipliesTheStoredTarget() throws Exception {
        User owner = newUser();
        UUID model = newModel(owner);
        List<String> warnings = new ArrayList<>();
        Training training = whileLogging(warnings,
                () -> trainings.create(owner.getId(), request(model, 3, options("{\"daisy_chain_period\": 4}"))));
        // the rewrite runs during the INSERT's flush; through the EntityManager, EclipseLink warned
        // at every daisy-chain training that "the query will be executed without further changes ..."
        assertEquals(List.of(), warnings);
        assertEquals(12, training.getTargetNumUpdates());
        assertEquals(12, row(training.getId()).get("target_num_updates"));
        // and a fresh persistence context (no cached instance) sees the same
        assertEquals(12, (int) transactions.call(() -> em.find(Training.class, training.getId()).getTargetNumUpdates()));
    }

    @Test
    void noPositivePeriodKeepsTheTarget() throws Exception {
        User owner = newUser();
        for (JsonObject options : List.of(options("{\"daisy_chain_period\": 0}"), options("{}"),
                options("{\"daisy_chain_period\": null}"), options("{\"other\": 7}"))) {
            Training training = trainings.create(owner.getId(), request(newModel(owner), 3, options));
            assertEquals(3, row(training.getId()).get("target_num_updates"), options.toString());
        }
        Training noOptions = trainings.create(owner.getId(), request(newModel(owner), 3, null));
        assertEquals(3, row(noOptions.getId()).get("target_num_updates"));
    }

    @Test
    void invalidPeriodsAreRefusedAndStoreNothing() throws Exception {
        User owner = newUser();
        UUID model = newModel(owner);
        for (String options : List.of("{\"daisy_chain_period\": \"x\"}", "{\"daisy_chain_period\": -1}",
                "{\"daisy_chain_period\": 2.5}", "{\"daisy_chain_period\": 4294967296}",
                "{\"daisy_chain_period\": [4]}")) {
            ApiException refused = assertThrows(ApiException.class,
                    () -> trainings.create(owner.getId(), request(model, 3, options(options))), options);
            assertEquals(400, refused.status());
            assertEquals("{\"options\":[\"daisy_chain_period must be a non-negative integer.\"]}",
                    refused.body().toString());
        }
        ApiException overflow = assertThrows(ApiException.class,
                () -> trainings.create(owner.getId(), request(model, 1 << 30, options("{\"daisy_chain_period\": 2}"))));
        assertEquals(400, overflow.status());
        assertInstanceOf(JsonObject.class, overflow.body());
        assertEquals(0, trainingsOn(model));
        // the model is still free: a valid creation afterwards uses it, not a copy
        Training ok = trainings.create(owner.getId(), request(model, 1 << 29, options("{\"daisy_chain_period\": 2}")));
        assertEquals(1 << 30, row(ok.getId()).get("target_num_updates"));
        assertEquals(model.toString(), row(ok.getId()).get("model_id"));
        assertEquals(1, trainingsOn(model));
    }

    @Test
    void aRolledBackCreationLeavesNoRow() throws Exception {
        User owner = newUser();
        UUID model = newModel(owner);
        List<UUID> created = new ArrayList<>();
        assertThrows(EJBException.class, () -> transactions.run(() -> {
            created.add(trainings.create(owner.getId(), request(model, 3, options("{\"daisy_chain_period\": 4}"))).getId());
            throw new IllegalStateException("roll the caller's transaction back");
        }));
        assertEquals(1, created.size());
        assertNull(row(created.get(0)));
        assertEquals(0, trainingsOn(model));
    }

    @Test
    void storedValuesUseTheSeedsEncodings() throws Exception {
        User owner = newUser();
        User participant = newUser();
        UUID model = newModel(owner);
        Training training = trainings.create(owner.getId(), new NewTraining(model, 5, List.of("accuracy"),
                AggregationMethod.FED_AVG, null, options("{\"uncertainty\": {\"N\": 10, \"softmax\": true}}"),
                List.of(participant.getId())));
        Map<String, Object> row = row(training.getId());
        assertEquals("I", row.get("state"));
        assertEquals("FedAvg", row.get("aggregation_method"));
        assertEquals("NONE", row.get("uncertainty_method"));
        assertEquals("object", row.get("options_type"));
        assertEquals("10", row.get("uncertainty_n"));
        assertEquals(false, row.get("locked"));
        assertEquals(owner.getId().toString(), row.get("actor_id"));
        assertEquals(List.of(participant.getId().toString()),
                strings("SELECT user_id::text FROM training_participant WHERE training_id = ?", training.getId()));
    }

    @Test
    void aSecondTrainingGetsACompleteCopyOfTheModel() throws Exception {
        User owner = newUser();
        UUID swag = transactions.call(() -> {
            SWAGModel m = new SWAGModel(em.find(User.class, owner.getId()), 2, "swag-net", "with moments");
            m.setWeights(new StoredFile("a".repeat(64), 1234));
            m.setInputShape("[null, 3]");
            m.setPreprocessingSha256("b".repeat(64));
            m.setSwagFirstMomentSha256("c".repeat(64));
            m.setSwagSecondMomentSha256("d".repeat(64));
            em.persist(m);
            return m.getId();
        });
        Training first = trainings.create(owner.getId(), request(swag, 3, null));
        Training second = trainings.create(owner.getId(), new NewTraining(swag, 4, List.of(),
                AggregationMethod.FED_PROX, UncertaintyMethod.SWAG, null, List.of()));
        String firstModel = (String) row(first.getId()).get("model_id");
        String secondModel = (String) row(second.getId()).get("model_id");
        assertEquals(swag.toString(), firstModel);
        assertNotEquals(firstModel, secondModel);
        String columns = "model_type, owner_id::text, round, weights_sha256, weights_size, name, description,"
                + " input_shape, preprocessing_sha256, swag_first_moment_sha256, swag_second_moment_sha256";
        List<String> original = strings("SELECT concat_ws('|', " + columns + ") FROM model WHERE id = ?", swag);
        List<String> copy = strings("SELECT concat_ws('|', " + columns + ") FROM model WHERE id = ?",
                UUID.fromString(secondModel));
        assertEquals(List.of("SWAG|" + owner.getId() + "|2|" + "a".repeat(64) + "|1234|swag-net|with moments|[null, 3]|"
                + "b".repeat(64) + "|" + "c".repeat(64) + "|" + "d".repeat(64)), original);
        assertEquals(original, copy);
    }

    @Test
    void aCopiedMeanModelKeepsItsMembersInOrder() throws Exception {
        User owner = newUser();
        UUID a = newModel(owner);
        UUID b = newModel(owner);
        UUID mean = transactions.call(() -> {
            MeanModel m = new MeanModel(em.find(User.class, owner.getId()), 0, "ensemble", "two nets",
                    List.of(em.find(GlobalModel.class, b), em.find(GlobalModel.class, a)));
            em.persist(m);
            return m.getId();
        });
        trainings.create(owner.getId(), request(mean, 1, null));
        Training second = trainings.create(owner.getId(), new NewTraining(mean, 1, List.of(),
                AggregationMethod.FED_AVG, UncertaintyMethod.ENSEMBLE, null, List.of()));
        UUID copy = UUID.fromString((String) row(second.getId()).get("model_id"));
        assertNotEquals(mean, copy);
        String members = "SELECT member_id::text FROM mean_model_member WHERE mean_model_id = ? ORDER BY member_index";
        assertEquals(List.of(b.toString(), a.toString()), strings(members, mean));
        assertEquals(List.of(b.toString(), a.toString()), strings(members, copy));
        assertEquals(List.of("MEAN|ensemble|two nets"),
                strings("SELECT concat_ws('|', model_type, name, description) FROM model WHERE id = ?", copy));
    }

    @Test
    void onlyTheOwnerCreatesAndUnknownModelsOrClientsAreRefused() throws Exception {
        User owner = newUser();
        User other = newUser();
        UUID model = newModel(owner);
        ApiException forbidden = assertThrows(ApiException.class,
                () -> trainings.create(other.getId(), request(model, 3, null)));
        assertEquals(403, forbidden.status());
        UUID unknown = UUID.randomUUID();
        ApiException noModel = assertThrows(ApiException.class,
                () -> trainings.create(owner.getId(), request(unknown, 3, null)));
        assertEquals("{\"detail\":\"Model " + unknown + " not found.\"}", noModel.body().toString());
        ApiException noClient = assertThrows(ApiException.class, () -> trainings.create(owner.getId(),
                new NewTraining(model, 3, List.of(), AggregationMethod.FED_AVG, null, null,
                        List.of(other.getId(), UUID.randomUUID()))));
        assertEquals("{\"detail\":\"Not all provided users were found!\"}", noClient.body().toString());
        assertEquals(0, trainingsOn(model));
    }

    @Test
    void detailCountsTheLocalModelsOfTheTrainingsModelAndOnlyGlobalModelsAreTrained() throws Exception {
        User owner = newUser();
        User participant = newUser();
        UUID model = newModel(owner);
        Training training = trainings.create(owner.getId(), new NewTraining(model, 2, List.of(),
                AggregationMethod.FED_AVG, null, null, List.of(participant.getId())));
        UUID local = transactions.call(() -> {
            GlobalModel base = em.find(GlobalModel.class, model);
            User p = em.find(User.class, participant.getId());
            LocalModel first = new LocalModel(p, 0, base, 10);
            em.persist(first);
            em.persist(new LocalModel(p, 1, base, 12));
            em.persist(new LocalModel(p, 0, em.find(GlobalModel.class, newModelInTransaction(owner)), 5));
            return first.getId();
        });
        TrainingService.TrainingDetail detail = trainings.detail(participant.getId(), training.getId());
        assertEquals(2, detail.localModelsArrived());
        assertEquals(1, detail.localModelsExpected());
        ApiException notGlobal = assertThrows(ApiException.class,
                () -> trainings.create(participant.getId(), request(local, 1, null)));
        assertEquals("{\"detail\":\"Model " + local + " is not a global model.\"}", notGlobal.body().toString());
        assertEquals(0, trainingsOn(local));
    }

    private static NewTraining request(UUID model, int target, JsonObject options) {
        return new NewTraining(model, target, List.of("accuracy"), AggregationMethod.FED_AVG, null, options, List.of());
    }

    private static JsonObject options(String json) {
        try (var reader = Json.createReader(new java.io.StringReader(json))) {
            return reader.readObject();
        }
    }

    private User newUser() {
        return users.create(new NewUser("tr-" + UUID.randomUUID(), "pw", "", "", "", true, true, ""));
    }

    private UUID newModel(User owner) {
        return transactions.call(() -> newModelInTransaction(owner));
    }

    private UUID newModelInTransaction(User owner) {
        GlobalModel m = new GlobalModel(em.find(User.class, owner.getId()), 0, "net", "a model");
        m.setWeights(new StoredFile("e".repeat(64), 10));
        em.persist(m);
        em.flush();
        return m.getId();
    }

    /** The training row as committed (plain JDBC, autocommit, outside any service transaction). */
    /**
     * Runs the action while every warning or worse that this thread logs goes to {@code warnings}
     * (this thread only: the shared server's background work may warn meanwhile).
     */
    private static <T> T whileLogging(List<String> warnings, java.util.concurrent.Callable<T> action) throws Exception {
        long thread = Thread.currentThread().getId();
        java.util.logging.Handler handler = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                if (record.getLongThreadID() == thread
                        && record.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                    synchronized (warnings) {
                        warnings.add(record.getLoggerName() + ": " + new java.util.logging.SimpleFormatter().formatMessage(record));
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        root.addHandler(handler);
        try {
            return action.call();
        } finally {
            root.removeHandler(handler);
        }
    }

    private static Map<String, Object> row(UUID id) throws SQLException, NamingException {
        try (Connection c = dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("SELECT target_num_updates, state, aggregation_method,"
                     + " uncertainty_method, jsonb_typeof(options) AS options_type,"
                     + " options->'uncertainty'->>'N' AS uncertainty_n, locked, actor_id::text AS actor_id,"
                     + " model_id::text AS model_id FROM training WHERE id = ?")) {
            s.setObject(1, id);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                Map<String, Object> row = new LinkedHashMap<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
                }
                return row;
            }
        }
    }

    private static long trainingsOn(UUID model) throws SQLException, NamingException {
        return Long.parseLong(strings("SELECT count(*)::text FROM training WHERE model_id = ?", model).get(0));
    }

    private static List<String> strings(String sql, UUID parameter) throws SQLException, NamingException {
        try (Connection c = dataSource().getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, parameter);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        }
    }

    private static DataSource dataSource() throws NamingException {
        return InitialContext.doLookup("java:app/jdbc/fl");
    }
}
