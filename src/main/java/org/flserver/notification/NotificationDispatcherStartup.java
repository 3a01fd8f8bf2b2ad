package org.flserver.notification;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.ejb.DependsOn;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;

/**
 * Starts the {@link NotificationDispatcher} when the application is deployed, once the schema is
 * migrated (the outbox table must exist before the first poll), and stops it at undeployment. The
 * dispatcher itself is a CDI bean, not an EJB, so that the after-commit observer that wakes it
 * runs no container transaction logic in a transaction's completion.
 */
@Singleton
@Startup
@DependsOn("DatabaseMigrations")
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
public class NotificationDispatcherStartup {

    @Inject
    NotificationDispatcher dispatcher;

    @PostConstruct
    void start() {
        dispatcher.start();
    }

    @PreDestroy
    void stop() {
        dispatcher.stop();
    }
}
