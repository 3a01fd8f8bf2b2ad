package org.flserver.it;

import java.io.File;
import org.jboss.shrinkwrap.api.ShrinkWrap;
import org.jboss.shrinkwrap.api.spec.WebArchive;

/** The WAR the build produced, for Arquillian: in-container tests run against exactly what ships. */
public final class Deployments {

    private Deployments() {
    }

    /**
     * The WAR the build produced, plus the in-container test helpers: in-container tests run
     * against exactly what ships. (Arquillian adds the test class itself; its {@link InContainer}
     * annotation must come along, or JUnit inside the server does not see the Arquillian extension
     * the annotation carries and injects nothing.)
     */
    public static WebArchive builtWar() {
        return ShrinkWrap.createFromZipFile(WebArchive.class,
                        new File(System.getProperty("it.war", "target/fl-server.war")))
                .addClasses(TestTransactions.class, Deployments.class, InContainer.class);
    }
}
