package org.flserver.notification;

/**
 * CDI event fired by {@link Outbox#send} once per transaction; {@link NotificationDispatcher}
 * observes it after a successful commit, so new notifications go out at once instead of at the
 * next poll, and those of a rolled-back transaction never wake anything.
 */
record NotificationsQueued() {
}
