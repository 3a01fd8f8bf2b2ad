package org.flserver.notification;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import org.flserver.notification.AllowedNetworks.Refusal;
import org.flserver.user.MessageEndpointRule;

/**
 * The rule for a user's {@code message_endpoint}: an absolute http(s) URL with a host, which the
 * server may send notifications to. The reference server stores any string and later fails to
 * notify; we refuse it when the user is created.
 *
 * <p>Sign-up refuses what can never be notified under the current {@code
 * fl.notification.allowed-networks}: IP literals in a refused range, in any of their spellings
 * ({@code [::ffff:169.254.169.254]}; number forms such as {@code 2852039166} are refused even
 * when what they stand for is allowed, since readers disagree on them), and the names that always
 * mean this machine ({@code localhost}) when loopback is not allowed. Other host names are not
 * resolved here: a name service that takes its time would hold the request, and the answer
 * could change by the time a notification goes out; the dispatcher checks the address it
 * connects to at every delivery.
 *
 * <p>It lives here, beside the allowed networks it applies, and {@code user} sees it only as the
 * {@link MessageEndpointRule} it declares, so that the user package needs nothing from above.
 */
@ApplicationScoped
public class MessageEndpoints implements MessageEndpointRule {

    static final String INVALID = "Enter a valid http or https URL.";

    private static final InetAddress LOOPBACK_V4 = address(new byte[] {127, 0, 0, 1});
    private static final InetAddress LOOPBACK_V6 = address(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});

    @Inject
    NotificationNetworks networks;

    @Override
    public Optional<String> problem(String endpoint) {
        return problem(endpoint, networks.allowed());
    }

    static Optional<String> problem(String endpoint, AllowedNetworks networks) {
        Destination destination;
        try {
            destination = Destination.parse(endpoint);
        } catch (IllegalArgumentException e) {
            return Optional.of(INVALID);
        }
        return switch (destination.kind()) {
            case LITERAL -> networks.refusal(destination.literal()).map(MessageEndpoints::refused);
            case AMBIGUOUS -> Optional.of(destination.refusedReading(networks).map(MessageEndpoints::refused)
                    .orElse(INVALID));
            case NAME -> destination.isLoopbackName() ? loopbackRefusal(destination.host(), networks) : Optional.empty();
        };
    }

    /** A loopback name is refused when neither 127.0.0.1 nor ::1 is allowed. */
    private static Optional<String> loopbackRefusal(String host, AllowedNetworks networks) {
        Optional<Refusal> v4 = networks.refusal(LOOPBACK_V4);
        Optional<Refusal> v6 = networks.refusal(LOOPBACK_V6);
        return v4.isPresent() && v6.isPresent()
                ? Optional.of(refused(new Refusal(host, v4.get().reason())))
                : Optional.empty();
    }

    private static InetAddress address(byte[] raw) {
        try {
            return InetAddress.getByAddress(raw); // no look-up
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String refused(Refusal refusal) {
        return "Notifications cannot be sent to " + refusal.address() + " (" + refusal.reason() + ").";
    }
}
