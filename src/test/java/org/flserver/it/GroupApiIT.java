package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/** Groups API (api.md §4): who may list, create, read, rename and delete. */
class GroupApiIT {

    private final ApiClient api = new ApiClient();

    @Test
    void simultaneousCreatesOfOneNameMakeOneGroupAndRefuseTheOthersAsADuplicate() {
        // Sent together, they may all pass the service's check; the unique key then refuses all but
        // one with the duplicate's 400 (it was a 500). Whatever the timing, the outcome is the same.
        Account creator = api.createUser("grp");
        String body = "{\"name\":\"" + ApiClient.uniqueName("twins") + "\"}";
        List<Reply> replies = Stream.generate(() -> api.exchangeAsync("POST", "/api/groups/", creator.tokenHeader(),
                "application/json", HttpRequest.BodyPublishers.ofString(body))).limit(6).toList().stream()
                .map(CompletableFuture::join).toList();
        assertEquals(1, replies.stream().filter(r -> r.status() == 201).count(), replies.toString());
        for (Reply r : replies) {
            if (r.status() != 201) {
                assertEquals(400, r.status(), r.toString());
                assertEquals("{\"name\":[\"group with this name already exists.\"]}", r.body());
            }
        }
    }

    @Test
    void anyoneCreatesButOnlyMembersReadAndOnlySuperusersList() throws Exception {
        Account creator = api.createUser("grp");
        String name = ApiClient.uniqueName("group");
        Reply created = api.postJson("/api/groups/", creator, "{\"name\":\"" + name + "\"}");
        assertEquals(201, created.status(), created.toString());
        long id = created.json().getJsonNumber("id").longValue();
        assertEquals(name, created.json().getString("name"));

        // the creator is not a member (membership is not managed through the API)
        Reply notMember = api.get("/api/groups/" + id + "/", creator);
        assertEquals(403, notMember.status());
        assertEquals("You are not allowed to access this group.", notMember.detail());

        Reply listAsUser = api.get("/api/groups/", creator);
        assertEquals(403, listAsUser.status());
        assertEquals("You are not allowed to access all groups.", listAsUser.detail());

        Reply listAsAdmin = api.send("GET", "/api/groups/", ApiClient.basic("admin", "admin-password"), null, (String) null);
        assertEquals(200, listAsAdmin.status(), listAsAdmin.toString());
        assertTrue(listAsAdmin.array().stream().anyMatch(g -> g.asJsonObject().getString("name").equals(name)));

        addMember(creator.id(), id);
        assertEquals(name, api.get("/api/groups/" + id, creator).json().getString("name"));
        Reply mine = api.get("/api/users/groups/", creator);
        assertEquals(1, mine.array().size());
        assertEquals(id, mine.array().getJsonObject(0).getJsonNumber("id").longValue());

        String renamed = name + "-renamed";
        Reply put = api.send("PUT", "/api/groups/" + id + "/", creator.tokenHeader(), "application/json",
                "{\"name\":\"" + renamed + "\"}");
        assertEquals(200, put.status(), put.toString());
        assertEquals(renamed, put.json().getString("name"));
        Reply patch = api.send("PATCH", "/api/groups/" + id + "/", creator.tokenHeader(), "application/json",
                "{\"name\":\"" + name + "\"}");
        assertEquals(200, patch.status(), patch.toString());
        // a partial update without a name changes nothing (DRF's PATCH), a PUT without one is refused
        Reply emptyPatch = api.send("PATCH", "/api/groups/" + id + "/", creator.tokenHeader(), "application/json",
                "{}");
        assertEquals(200, emptyPatch.status(), emptyPatch.toString());
        assertEquals(name, emptyPatch.json().getString("name"));
        Reply emptyPut = api.send("PUT", "/api/groups/" + id + "/", creator.tokenHeader(), "application/json",
                "{}");
        assertEquals(400, emptyPut.status(), emptyPut.toString());
        assertEquals("{\"name\":[\"This field is required.\"]}", emptyPut.body());

        Reply deleted = api.send("DELETE", "/api/groups/" + id + "/", creator.tokenHeader(), null, (String) null);
        assertEquals(204, deleted.status());
        assertEquals("", deleted.body());
        Reply gone = api.get("/api/groups/" + id + "/", creator);
        assertEquals(400, gone.status());
        assertEquals("Group " + id + " not found.", gone.detail());
    }

    @Test
    void badGroupRequests() {
        Account a = api.createUser("grpbad");
        Reply missing = api.postJson("/api/groups/", a, "{}");
        assertEquals(400, missing.status());
        assertTrue(missing.json().containsKey("name"), missing.toString());
        String name = ApiClient.uniqueName("dup");
        assertEquals(201, api.postJson("/api/groups/", a, "{\"name\":\"" + name + "\"}").status());
        Reply duplicate = api.postJson("/api/groups/", a, "{\"name\":\"" + name + "\"}");
        assertEquals(400, duplicate.status());
        assertTrue(duplicate.json().containsKey("name"));
        Reply tooLong = api.postJson("/api/groups/", a, "{\"name\":\"" + "g".repeat(151) + "\"}");
        assertEquals(400, tooLong.status());
        Reply nonInteger = api.get("/api/groups/abc/", a);
        assertEquals(404, nonInteger.status());
        assertEquals("Not found.", nonInteger.detail());
    }

    private static void addMember(UUID user, long group) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement("INSERT INTO fl_user_group (user_id, group_id) VALUES (?, ?)")) {
            s.setObject(1, user);
            s.setLong(2, group);
            s.executeUpdate();
        }
    }
}
