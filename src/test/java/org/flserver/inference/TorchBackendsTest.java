package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link TorchBackends#find} where the runtime is absent: a WAR on a plain Payara Micro. */
class TorchBackendsTest {

    @Test
    void withoutDjlOnTheClassPathFindSaysHowToInstallItAndTouchesNoDjlClass() throws Exception {
        URL classes = Path.of("target", "classes").toUri().toURL();
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        // the application's classes alone, as a worker would see them without the runtime's jars
        try (URLClassLoader war = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
            assertThrows(ClassNotFoundException.class, () -> war.loadClass(TorchBackends.ENGINE_CLASS));
            Thread.currentThread().setContextClassLoader(war);
            Class<?> finder = war.loadClass(TorchBackends.class.getName());
            StringBuilder whyNot = new StringBuilder();
            Optional<?> found = (Optional<?>) finder.getMethod("find", StringBuilder.class).invoke(null, whyNot);
            assertTrue(found.isEmpty());
            assertEquals(TorchBackends.NOT_INSTALLED, whyNot.toString());
            assertTrue(whyNot.toString().contains("fl.inference.runtime-dir"), whyNot.toString());
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }
}
