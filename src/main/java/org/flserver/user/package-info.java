/**
 * Users, groups and authentication (token, Basic, throttling, the admin identity store) and their
 * resources. May import {@code platform} only; the rule for message endpoints is declared here as
 * {@code MessageEndpointRule} and implemented by {@code notification}.
 */
package org.flserver.user;
