package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.TrainingDriver.Participant;
import org.flserver.it.ApiClient.Reply;
import org.htmlunit.WebClient;
import org.htmlunit.html.HtmlAnchor;
import org.htmlunit.html.HtmlForm;
import org.htmlunit.html.HtmlPage;
import org.htmlunit.html.HtmlTable;
import org.htmlunit.html.HtmlTableRow;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The JSF admin pages through a browser (HtmlUnit) against the shared server: form login for
 * superusers only, the trainings list with its sortable columns, the detail page, logout, and
 * that the form login leaves the API's own authentication alone.
 *
 * <p>Two trainings are created once for the class; other test classes share the database, so
 * every check looks at these two rows only.
 */
class AdminPagesIT {

    private static final String ADMIN = "admin";
    private static final String ADMIN_PASSWORD = "admin-password";

    private static Account actor;
    private static Account alice;
    private static Account bob;
    private static byte[] weights;
    private static String modelName;
    private static UUID small;
    private static UUID large;

    private final ApiClient api = new ApiClient();
    private WebClient browser;

    @BeforeAll
    static void createTwoTrainings() throws Exception {
        ApiClient setup = new ApiClient();
        actor = setup.createUser("actor");
        alice = setup.createUser("alice");
        bob = setup.createUser("bob");
        weights = Files.readAllBytes(Path.of(System.getProperty("fl.fixtures"), "models", "mlp.torchscript.pt"));
        modelName = ApiClient.uniqueName("mnist <b>cnn</b>");
        // Target 5 with FedProx, and target 12 with FedAvg: the target and the aggregation-method
        // orders are opposite, so a sort that is not applied cannot pass both checks.
        small = createTraining(uploadModel(setup, modelName, 3), 5, "FedProx", "MC_DROPOUT",
                Json.createObjectBuilder().add("daisy_chain_period", 0).add("note", "<script>alert(1)</script>").build(),
                alice, bob);
        large = createTraining(uploadModel(setup, ApiClient.uniqueName("second model"), 0), 12, "FedAvg", "NONE",
                JsonObject.EMPTY_JSON_OBJECT);
    }

    @BeforeEach
    void openBrowser() {
        browser = new WebClient();
        browser.getOptions().setJavaScriptEnabled(false);
        browser.getOptions().setCssEnabled(false);
        // Status codes are asserted explicitly (the detail page answers 404 for unknown ids).
        browser.getOptions().setThrowExceptionOnFailingStatusCode(false);
    }

    @AfterEach
    void closeBrowser() {
        browser.close();
    }

    @Test
    void anonymousVisitorsAreShownTheLoginForm() throws IOException {
        HtmlPage page = browser.getPage(url("/admin/"));
        assertLoginForm(page);
        assertNull(page.getElementById("trainings"));

        HtmlPage detail = browser.getPage(url("/admin/training.xhtml?id=" + small));
        assertLoginForm(detail);
        assertFalse(detail.asNormalizedText().contains(modelName), detail.asNormalizedText());
    }

    @Test
    void aUserWhoIsNoSuperuserCannotGetIn() throws IOException {
        HtmlPage refused = logIn(alice.username(), alice.password());
        assertLoginForm(refused);
        assertTrue(refused.asNormalizedText().contains("Login failed"), refused.asNormalizedText());
        // and still nothing behind the form afterwards
        HtmlPage again = browser.getPage(url("/admin/"));
        assertLoginForm(again);
        assertNull(again.getElementById("trainings"));
    }

    @Test
    void aWrongAdminPasswordIsRefused() throws IOException {
        HtmlPage refused = logIn(ADMIN, ADMIN_PASSWORD + "x");
        assertTrue(refused.asNormalizedText().contains("Login failed"), refused.asNormalizedText());
        assertNull(refused.getElementById("trainings"));
    }

    @Test
    void aNulInTheUsernameIsAFailedLoginNotAnError() throws IOException {
        // No user can have a NUL in its name, and the database cannot compare one: the look-up used to
        // fail there. The container turned that into a failed login too (logging the database error),
        // so this answer alone does not tell the two apart; it guards against the page failing instead.
        HtmlPage refused = logIn(ADMIN + "\u0000", ADMIN_PASSWORD);
        assertTrue(refused.asNormalizedText().contains("Login failed"), refused.asNormalizedText());
        assertNull(refused.getElementById("trainings"));
    }

    @Test
    void theListShowsTheTrainingsAndSortsByColumn() throws IOException {
        HtmlPage list = logIn(ADMIN, ADMIN_PASSWORD);
        assertEquals("Trainings – fl-server", list.getTitleText());

        List<String> row = cells(list, small);
        assertEquals(small.toString(), row.get(0));
        assertEquals(modelName, row.get(1));           // shown as text, not as markup
        assertEquals(actor.username(), row.get(2));
        assertEquals("Initial", row.get(3));
        assertEquals("FedProx", row.get(4));
        assertEquals("MC Dropout", row.get(5));
        assertEquals("3", row.get(6));
        assertEquals("5", row.get(7));
        assertTrue(row.get(8).startsWith("2"), row.get(8));
        assertTrue(row.get(8).contains(alice.username()) && row.get(8).contains(bob.username()), row.get(8));
        assertTrue(row.get(9).matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC"), row.get(9));
        assertEquals(List.of("0", "12", "0"), List.of(cells(list, large).get(6), cells(list, large).get(7),
                cells(list, large).get(8)));

        // Target: 5 before 12 ascending, and the second click on the header reverses it.
        HtmlPage byTarget = click(list, "trainings:sort-target");
        assertTrue(position(byTarget, small) < position(byTarget, large));
        HtmlPage byTargetDesc = click(byTarget, "trainings:sort-target");
        assertTrue(position(byTargetDesc, large) < position(byTargetDesc, small));

        // Aggregation method: FedAvg (target 12) before FedProx (target 5), the opposite order.
        HtmlPage byMethod = click(byTargetDesc, "trainings:sort-aggregation");
        assertTrue(position(byMethod, large) < position(byMethod, small));
        HtmlPage byMethodDesc = click(byMethod, "trainings:sort-aggregation");
        assertTrue(position(byMethodDesc, small) < position(byMethodDesc, large));
    }

    @Test
    void theRowLinkOpensTheDetailWithParticipantsOptionsAndModel() throws Exception {
        HtmlPage list = logIn(ADMIN, ADMIN_PASSWORD);
        HtmlPage detail = list.getAnchorByText(small.toString()).click();
        assertEquals(200, detail.getWebResponse().getStatusCode());
        assertEquals(url("/admin/training.xhtml?id=" + small), detail.getUrl().toString());

        String participants = detail.getHtmlElementById("participants").asNormalizedText();
        assertTrue(participants.contains(alice.username()) && participants.contains(bob.username()), participants);
        String options = detail.getHtmlElementById("options").asNormalizedText();
        assertTrue(options.contains("\"daisy_chain_period\": 0"), options);
        assertTrue(options.contains("<script>alert(1)</script>"), options);   // text, not a script element
        assertTrue(detail.getElementsByTagName("script").isEmpty());
        String model = detail.getHtmlElementById("model").asNormalizedText();
        assertTrue(model.contains(modelName), model);
        assertTrue(detail.getElementsByTagName("b").isEmpty());
        assertTrue(model.contains(actor.username()), model);
        assertTrue(model.contains(sha256(weights)), model);
        assertTrue(model.contains(weights.length + " bytes"), model);
        assertTrue(detail.getHtmlElementById("state").asNormalizedText().contains("Initial"));
    }

    @Test
    void theDetailShowsWhereARunningTrainingStands() throws Exception {
        Path set = Path.of(System.getProperty("fl.fixtures"), "fedavg", "mlp");
        try (TrainingDriver driver = new TrainingDriver(new ApiClient())) {
            Participant owner = driver.participant("actor");
            List<Participant> clients = List.of(driver.participant("p0"), driver.participant("p1"));
            UUID model = driver.uploadGlobal(owner.account(), set.resolve("client0.torchscript.pt"));
            String training = driver.createTraining(owner.account(), model, 2, "FedAvg", null, "{}", clients);
            driver.start(owner.account(), training);
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
            assertEquals(201, driver.uploadUpdate(clients.get(0), model, 0, set.resolve("client1.torchscript.pt"), 7)
                    .status());

            HtmlPage waiting = logIn(ADMIN, ADMIN_PASSWORD).getAnchorByText(training).click();
            assertEquals("0", waiting.getHtmlElementById("roundNumber").asNormalizedText());
            assertEquals("UPDATES", waiting.getHtmlElementById("phase").asNormalizedText());
            String deliveries = waiting.getHtmlElementById("deliveries").asNormalizedText();
            assertTrue(deliveries.matches("(?s).*" + clients.get(0).account().username()
                    + "\\s+local model uploaded [^\\n]*sample size 7.*"), deliveries);
            assertTrue(deliveries.matches("(?s).*" + clients.get(1).account().username() + "\\s+missing.*"),
                    deliveries);
            String log = waiting.getHtmlElementById("notifications").asNormalizedText();
            for (Participant c : clients) {
                assertTrue(log.matches("(?s).*TRAINING_START\\s+" + c.account().username() + "\\s+SENT.*"), log);
                assertTrue(log.matches("(?s).*UPDATE_ROUND_START\\s+" + c.account().username() + "\\s+SENT.*"), log);
            }

            assertEquals(201, driver.uploadUpdate(clients.get(1), model, 0, set.resolve("client2.torchscript.pt"), 3)
                    .status());
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
            String[] accuracies = {"0.5", "0.7"};
            for (int i = 0; i < 2; i++) {
                assertEquals(201, api.send("POST", "/api/models/" + model + "/metrics/",
                        clients.get(i).account().basicHeader(), "application/x-www-form-urlencoded",
                        "metric_names=accuracy&metric_values=" + accuracies[i]
                                + "&metric_names=%3Cscript%3Ex%3C%2Fscript%3E&metric_values=1").status());
            }
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 1);

            HtmlPage next = browser.getPage(url("/admin/training.xhtml?id=" + training));
            assertEquals("1", next.getHtmlElementById("roundNumber").asNormalizedText());
            String metrics = next.getHtmlElementById("metrics").asNormalizedText();
            assertTrue(metrics.matches("(?s).*1\\s+accuracy\\s+0\\.6\\d*\\s+2.*"), metrics);
            String chart = next.getHtmlElementById("metricChart").asXml();
            assertTrue(chart.contains("polyline"), chart);
            assertTrue(chart.contains("accuracy"), chart);
            assertTrue(next.getElementsByTagName("script").isEmpty(), "metric keys are text, never markup");
            String versions = next.getHtmlElementById("versions").asNormalizedText();
            assertTrue(versions.contains("Round 0") && versions.contains("uploaded"), versions);
            assertTrue(versions.matches("(?s).*Round 1.*job.*" + clients.get(0).account().username()
                    + "\\s+round 0\\s+sample size 7, weight 0\\.7000.*" + clients.get(1).account().username()
                    + "\\s+round 0\\s+sample size 3, weight 0\\.3000.*"), versions);
            assertTrue(next.getHtmlElementById("jobs").asNormalizedText().matches("(?s).*MODEL\\s+round 0\\s+DONE.*"));
        }
    }

    @Test
    void unknownAndMalformedIdsSayNotFound() throws IOException {
        logIn(ADMIN, ADMIN_PASSWORD);
        for (String id : new String[]{UUID.randomUUID().toString(), "not-a-uuid", ""}) {
            HtmlPage page = browser.getPage(url("/admin/training.xhtml?id=" + id));
            assertEquals(404, page.getWebResponse().getStatusCode(), id);
            assertTrue(page.getHtmlElementById("notFound").asNormalizedText().startsWith("Training not found"),
                    page.asNormalizedText());
        }
    }

    @Test
    void logoutEndsTheSession() throws IOException {
        HtmlPage list = logIn(ADMIN, ADMIN_PASSWORD);
        assertNotNull(list.getElementById("trainings"));
        HtmlPage after = list.getHtmlElementById("logout:logoutButton").click();
        assertLoginForm(after);
        assertLoginForm(browser.getPage(url("/admin/")));
    }

    @Test
    void aFormPostedAfterTheSessionEndedLeadsToTheLoginPage() throws IOException {
        HtmlPage list = logIn(ADMIN, ADMIN_PASSWORD);
        browser.getCookieManager().clearCookies();   // as after a session timeout or a restart
        HtmlPage after = list.getHtmlElementById("logout:logoutButton").click();
        assertEquals(200, after.getWebResponse().getStatusCode());
        assertEquals(url("/admin/login.xhtml"), after.getUrl().toString());
        assertLoginForm(after);
    }

    @Test
    void theServerRootLinksToTheAdminPages() throws IOException {
        HtmlPage root = browser.getPage(url("/"));
        assertEquals(200, root.getWebResponse().getStatusCode());
        assertLoginForm(root.getAnchorByHref("/admin/").click());
    }

    @Test
    void theApiKeepsItsOwnAuthentication() throws IOException, InterruptedException {
        // A bad Basic header on the API is answered by the API's filter, not by the form login.
        Reply wrong = api.send("GET", "/api/users/myself/", ApiClient.basic(ADMIN, "wrong"), null, (String) null);
        assertEquals(401, wrong.status(), wrong.toString());
        assertEquals("Invalid username/password.", wrong.detail());
        // An admin session cookie does not authenticate API calls either.
        logIn(ADMIN, ADMIN_PASSWORD);
        String cookie = "JSESSIONID=" + browser.getCookieManager().getCookie("JSESSIONID").getValue();
        HttpResponse<String> withSession = ApiClient.send(
                HttpRequest.newBuilder(URI.create(url("/api/users/myself/"))).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, withSession.statusCode(), withSession.body());
        assertTrue(withSession.body().contains("Authentication credentials were not provided."), withSession.body());
    }

    // --- helpers -------------------------------------------------------------------------------

    private static String url(String path) {
        return IntegrationEnvironment.baseUrl() + path;
    }

    /** Opens the login page and submits it; answers the page the browser ends up on. */
    private HtmlPage logIn(String username, String password) throws IOException {
        HtmlPage login = browser.getPage(url("/admin/login.xhtml"));
        HtmlForm form = login.getFormByName("login");
        form.getInputByName("login:username").setValue(username);
        form.getInputByName("login:password").setValue(password);
        return form.getInputByName("login:submit").click();
    }

    private static void assertLoginForm(HtmlPage page) {
        assertNotNull(page.getElementById("login:password"), page.asNormalizedText());
    }

    private static HtmlPage click(HtmlPage page, String id) throws IOException {
        HtmlAnchor link = page.getHtmlElementById(id);
        return link.click();
    }

    /** The cells of the row of one training, as text. */
    private static List<String> cells(HtmlPage page, UUID training) {
        for (HtmlTableRow row : table(page).getBodies().get(0).getRows()) {
            if (row.getCell(0).asNormalizedText().equals(training.toString())) {
                List<String> texts = new ArrayList<>();
                row.getCells().forEach(c -> texts.add(c.asNormalizedText().trim()));
                return texts;
            }
        }
        throw new AssertionError("no row for " + training + " in " + page.asNormalizedText());
    }

    private static int position(HtmlPage page, UUID training) {
        List<HtmlTableRow> rows = table(page).getBodies().get(0).getRows();
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).getCell(0).asNormalizedText().equals(training.toString())) {
                return i;
            }
        }
        throw new AssertionError("no row for " + training);
    }

    private static HtmlTable table(HtmlPage page) {
        return page.getHtmlElementById("trainings");
    }

    /** A global model of the actor, uploaded through the API; answers its id. */
    private static UUID uploadModel(ApiClient setup, String name, int round) {
        Multipart form = new Multipart().field("name", name).field("description", "a model for the admin pages test")
                .field("round", Integer.toString(round)).file("model_file", "mlp.pt", weights);
        Reply r = setup.sendBytes("POST", "/api/models/", actor.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("model_id"));
    }

    /** A training of the actor on the model, created through the API (state Initial); answers its id. */
    private static UUID createTraining(UUID model, int target, String aggregation, String uncertainty,
                                       JsonObject options, Account... participants) {
        JsonArrayBuilder clients = Json.createArrayBuilder();
        for (Account p : participants) {
            clients.add(p.id().toString());
        }
        JsonObject body = Json.createObjectBuilder().add("model_id", model.toString())
                .add("target_num_updates", target).add("metric_names", Json.createArrayBuilder().add("accuracy"))
                .add("aggregation_method", aggregation).add("uncertainty_method", uncertainty)
                .add("options", options).add("clients", clients).build();
        Reply r = new ApiClient().postJson("/api/trainings/", actor, body.toString());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("training_id"));
    }

    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
