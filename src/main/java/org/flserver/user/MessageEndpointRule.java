package org.flserver.user;

import java.util.Optional;

/**
 * The rule a user's {@code message_endpoint} must meet at sign-up: an http(s) URL the server may
 * send notifications to. Where notifications may go is the notification package's policy; it
 * implements this interface, so that {@code user}, which sits below it, need not import it.
 */
public interface MessageEndpointRule {

    /** What is wrong with {@code endpoint} (not empty), as the field error to answer; empty if nothing. */
    Optional<String> problem(String endpoint);
}
