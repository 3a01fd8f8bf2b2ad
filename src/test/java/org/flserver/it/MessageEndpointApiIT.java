package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.Json;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Sign-up refuses a {@code message_endpoint} the server may never send notifications to, against
 * the shared server with the default {@code fl.notification.allowed-networks}: every spelling of
 * a link-local, cloud metadata, unspecified, multicast or broadcast address is a 400 with the
 * field error, and nothing is written (the same username signs up afterwards). Loopback, private
 * and named endpoints keep working. Speaks HTTP/1.1 like the DLR client.
 */
class MessageEndpointApiIT {

    private record Reply(int status, String body) {
    }

    private static Reply signUp(String username, String endpoint) throws IOException, InterruptedException {
        String json = "{\"username\":\"" + username + "\",\"password\":\"pw\",\"client\":true,"
                + "\"message_endpoint\":\"" + endpoint + "\"}";
        HttpRequest request = HttpRequest.newBuilder(URI.create(IntegrationEnvironment.baseUrl() + "/api/users/"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .timeout(Duration.ofSeconds(30))
                .build();
        HttpResponse<String> response = ApiClient.send(request, HttpResponse.BodyHandlers.ofString());
        return new Reply(response.statusCode(), response.body());
    }

    @Test
    void everySpellingOfARefusedAddressIsA400WithTheFieldErrorAndWritesNothing() throws Exception {
        Map<String, String> cases = new LinkedHashMap<>();
        String linkLocal = "Notifications cannot be sent to 169.254.169.254 (link-local address).";
        cases.put("http://169.254.169.254/latest/meta-data/", linkLocal);
        cases.put("http://2852039166/", linkLocal);
        cases.put("http://0xa9fea9fe/", linkLocal);
        cases.put("http://[::ffff:169.254.169.254]/", linkLocal);
        cases.put("http://[::ffff:a9fe:a9fe]:8080/", linkLocal);
        cases.put("http://[fe80::1]:8101/", "Notifications cannot be sent to fe80::1 (link-local address).");
        cases.put("http://[fd00:ec2::254]/", "Notifications cannot be sent to fd00:ec2::254 (cloud metadata address).");
        cases.put("http://100.100.100.200/", "Notifications cannot be sent to 100.100.100.200 (cloud metadata address).");
        cases.put("http://0.0.0.0:8101/", "Notifications cannot be sent to 0.0.0.0 (unspecified address).");
        cases.put("http://[::]:8101/", "Notifications cannot be sent to :: (unspecified address).");
        cases.put("http://224.0.0.251/", "Notifications cannot be sent to 224.0.0.251 (multicast address).");
        cases.put("http://255.255.255.255/",
                "Notifications cannot be sent to 255.255.255.255 (reserved or broadcast address).");
        // number forms that HTTP stacks read differently (C: 8.0.0.1, Java: 10.0.0.1) are no valid URL
        cases.put("http://010.0.0.1/", "Enter a valid http or https URL.");
        cases.put("http://2130706433:8101/", "Enter a valid http or https URL.");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String username = ApiClient.uniqueName("ssrf");
            Reply refused = signUp(username, c.getKey());
            assertEquals(new Reply(400, "{\"message_endpoint\":[\"" + c.getValue() + "\"]}"), refused, c.getKey());
            assertEquals(201, signUp(username, "http://127.0.0.1:8101/").status(), "the username is still free");
        }
    }

    @Test
    void loopbackPrivateAndNamedEndpointsAreAccepted() throws Exception {
        for (String endpoint : List.of("http://127.0.0.1:8101/", "http://localhost:8101/notify", "http://[::1]:8101/",
                "http://10.1.2.3:8101/", "http://[fd12:3456::1]:8101/", "https://client-host.example.org/")) {
            Reply created = signUp(ApiClient.uniqueName("endpoint"), endpoint);
            assertEquals(201, created.status(), endpoint + ": " + created.body());
            try (JsonReader json = Json.createReader(new StringReader(created.body()))) {
                assertEquals(endpoint, json.readObject().getString("message_endpoint"));
            }
        }
    }
}
