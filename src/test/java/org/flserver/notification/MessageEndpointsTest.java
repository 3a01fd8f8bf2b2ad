package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * What sign-up says about a {@code message_endpoint}: the field error for endpoints that can
 * never be notified (every spelling of a refused address, loopback names when loopback is not
 * allowed) and for what is no usable URL; nothing for host names, which are checked at delivery.
 */
class MessageEndpointsTest {

    private static final AllowedNetworks DEFAULT = AllowedNetworks.parse(AllowedNetworks.DEFAULT);

    private static final String INVALID = "Enter a valid http or https URL.";

    @Test
    void refusedAddressesInEverySpellingAreNamed() {
        Map<String, String> cases = new LinkedHashMap<>();
        String metadata = "Notifications cannot be sent to 169.254.169.254 (link-local address).";
        cases.put("http://169.254.169.254/latest/meta-data/", metadata);
        cases.put("http://user@169.254.169.254:80/", metadata);
        cases.put("http://2852039166/", metadata);
        cases.put("http://0xa9fea9fe/", metadata);
        cases.put("http://[::ffff:169.254.169.254]/", metadata);
        cases.put("http://[::FFFF:A9FE:A9FE]:8080/", metadata);
        cases.put("http://[0:0:0:0:0:ffff:a9fe:a9fe]/", metadata);
        cases.put("http://[64:ff9b::169.254.169.254]/", "Notifications cannot be sent to 64:ff9b::a9fe:a9fe "
                + "(link-local address 169.254.169.254 inside an IPv6 address).");
        cases.put("http://169.254.0.1/", "Notifications cannot be sent to 169.254.0.1 (link-local address).");
        cases.put("https://[fe80::1]/", "Notifications cannot be sent to fe80::1 (link-local address).");
        cases.put("http://[fe80::1%25eth0]/", "Notifications cannot be sent to fe80::1 (link-local address).");
        cases.put("http://[fd00:ec2::254]/", "Notifications cannot be sent to fd00:ec2::254 (cloud metadata address).");
        cases.put("http://100.100.100.200/", "Notifications cannot be sent to 100.100.100.200 (cloud metadata address).");
        cases.put("http://0.0.0.0:8080/", "Notifications cannot be sent to 0.0.0.0 (unspecified address).");
        cases.put("http://0/", "Notifications cannot be sent to 0.0.0.0 (unspecified address).");
        cases.put("http://[::]/", "Notifications cannot be sent to :: (unspecified address).");
        cases.put("http://224.0.0.251/", "Notifications cannot be sent to 224.0.0.251 (multicast address).");
        cases.put("http://[ff02::1]/", "Notifications cannot be sent to ff02::1 (multicast address).");
        cases.put("http://255.255.255.255/",
                "Notifications cannot be sent to 255.255.255.255 (reserved or broadcast address).");
        // number forms that readers disagree on, or no URL Java can read: refused as no valid URL
        cases.put("http://010.0.0.1/", INVALID);
        cases.put("http://2130706433:8101/", INVALID);
        cases.put("http://0251.0376.0251.0376/", INVALID);
        cases.put("http://127.1/", INVALID);
        cases.put("http://169.254.169.254./", INVALID);
        cases.put("http://[::1%25lo]/", INVALID);
        cases.put("http://host:99999/", INVALID);
        cases.put("ftp://host/", INVALID);
        cases.put("nowhere", INVALID);
        cases.forEach((endpoint, message) ->
                assertEquals(Optional.of(message), MessageEndpoints.problem(endpoint, DEFAULT), endpoint));
    }

    @Test
    void theDefaultKeepsLoopbackPrivateAndPublicReceiversAndNamesWorking() {
        for (String ok : List.of("http://127.0.0.1:8101/", "http://[::1]:8101/", "http://localhost:8101/",
                "http://client-host:8101/", "https://fl.example.org/notify?site=3", "http://10.0.0.5/",
                "http://192.168.1.20:5000/", "http://172.16.4.4/", "http://[fd12:3456::1]/", "http://8.8.8.8/",
                "http://[::ffff:127.0.0.1]/", "http://rebinding.example/")) {
            assertEquals(Optional.empty(), MessageEndpoints.problem(ok, DEFAULT), ok);
        }
    }

    @Test
    void aNarrowedSettingRefusesLoopbackAndPrivateLiteralsAndLoopbackNamesButNotOtherNames() {
        AllowedNetworks narrowed = AllowedNetworks.parse("203.0.113.0/24, 2001:db8::/32");
        assertEquals(Optional.of("Notifications cannot be sent to localhost (not in the allowed networks)."),
                MessageEndpoints.problem("http://localhost:8101/", narrowed));
        assertEquals(Optional.of("Notifications cannot be sent to client.localhost. (not in the allowed networks)."),
                MessageEndpoints.problem("http://client.localhost./", narrowed));
        assertEquals(Optional.of("Notifications cannot be sent to 127.0.0.1 (not in the allowed networks)."),
                MessageEndpoints.problem("http://127.0.0.1:8101/", narrowed));
        assertEquals(Optional.of("Notifications cannot be sent to 10.0.0.5 (not in the allowed networks)."),
                MessageEndpoints.problem("http://10.0.0.5/", narrowed));
        assertEquals(Optional.of("Notifications cannot be sent to ::1 (not in the allowed networks)."),
                MessageEndpoints.problem("http://[::1]/", narrowed));
        assertEquals(Optional.of("Notifications cannot be sent to 127.0.0.1 (not in the allowed networks)."),
                MessageEndpoints.problem("http://2130706433/", narrowed));
        assertEquals(Optional.empty(), MessageEndpoints.problem("http://203.0.113.7:8101/", narrowed));
        assertEquals(Optional.empty(), MessageEndpoints.problem("http://[2001:db8::7]/", narrowed));
        assertEquals(Optional.empty(), MessageEndpoints.problem("https://site-a.example.org/", narrowed));
        // a loopback name is fine while either loopback address is allowed
        assertEquals(Optional.empty(), MessageEndpoints.problem("http://localhost/", AllowedNetworks.parse("::1")));
    }
}
