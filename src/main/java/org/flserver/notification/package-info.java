/**
 * The notification outbox, its dispatcher, the HTTP sender and where it may send (allowed networks,
 * the message-endpoint rule). May import {@code training}, {@code user} (entities: who gets what about
 * which training) and {@code platform}; it reports delivery outcomes as CDI events, never calls up.
 */
package org.flserver.notification;
