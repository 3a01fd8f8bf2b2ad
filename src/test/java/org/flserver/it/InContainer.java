package org.flserver.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.jboss.arquillian.junit5.ArquillianExtension;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks an Arquillian test class: its tests run inside a Payara Micro of their own, on the test
 * database, and may observe what happens inside that server (CDI events, transactions, beans).
 *
 * <p>Such observations only hold if no other server works on the same database meanwhile: the
 * shared test server would claim notifications and aggregation jobs too (any instance may, as in
 * production, design.md §7), and then their events fire in the other process, where the test
 * cannot see them. The build therefore runs the classes tagged {@value #TAG} in a failsafe
 * execution of their own, without the shared server ({@code it.shared-server=false}); tests of
 * several instances start the second one themselves.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag(InContainer.TAG)
@ExtendWith(ArquillianExtension.class)
public @interface InContainer {

    /** The JUnit tag the pom's failsafe executions select on. */
    String TAG = "in-container";
}
