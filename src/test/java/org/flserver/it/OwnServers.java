package org.flserver.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks an integration test class that starts Payara Micro processes of its own (on a schema of its
 * own, or on an embedded database in its own folder) and never calls the shared test server.
 *
 * <p>Why: those classes spend most of their time booting servers and waiting for deadlines, leases
 * and restarts, while the shared server's classes mostly wait for it to answer. The shared-server
 * run of failsafe enables JUnit's parallel execution (pom.xml) with every class sequential by
 * default, so the classes marked here form a second lane beside the others: concurrent with the
 * shared-server classes, but one at a time among themselves (the lock), so that no more than one
 * such test's servers compete for the two cores with the shared one. Their test methods run one
 * after the other (JUnit runs the descendants of a node that holds a lock in its thread).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Execution(ExecutionMode.CONCURRENT)
@ResourceLock(OwnServers.LOCK)
@interface OwnServers {

    /** The lock that keeps the marked classes apart. */
    String LOCK = "org.flserver.it.own-servers";
}
