package org.flserver.inference;

import java.lang.reflect.InvocationTargetException;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Finds the TorchScript runtime inside an inference worker, whose class path holds DJL's jars
 * (from {@code fl.inference.runtime-dir}) beside the application's classes. Nothing here names a
 * DJL type, so a class path without DJL gets a message that says how to add it instead of a
 * linkage error.
 */
public final class TorchBackends {

    private static final Logger LOG = Logger.getLogger(TorchBackends.class.getName());

    /** Models kept loaded when the caller names no bound. */
    public static final int DEFAULT_MAX_CACHED_MODELS = 8;

    /** Intra-op threads of libtorch unless {@code -Dai.djl.pytorch.num_threads} says otherwise. */
    static final String DEFAULT_THREADS = "1";

    static final String ENGINE_CLASS = "ai.djl.engine.Engine";
    static final String BACKEND_CLASS = "org.flserver.inference.djl.DjlBackend";

    static final String NOT_INSTALLED = "the TorchScript runtime (DJL + libtorch) is not on the inference "
            + "worker's class path; set fl.inference.runtime-dir to the folder of the jars the build copies to "
            + "target/inference-libs (see README, \"Inference runtime\")";

    private TorchBackends() {
    }

    /** The backend if the runtime is present, else why not (for the 503's detail and the log). */
    public static Optional<TorchBackend> find(StringBuilder whyNot) {
        return find(whyNot, DEFAULT_MAX_CACHED_MODELS);
    }

    /**
     * The backend, keeping at most {@code maxCachedModels} models loaded, if the runtime is present
     * and its engine starts; else why not. Nothing here touches a DJL class unless DJL is there: the
     * backend is created by reflection.
     */
    public static Optional<TorchBackend> find(StringBuilder whyNot, int maxCachedModels) {
        ClassLoader loader = TorchBackends.class.getClassLoader();
        if (!loadable(loader) && !loadable(Thread.currentThread().getContextClassLoader())) {
            whyNot.append(NOT_INSTALLED);
            return Optional.empty();
        }
        // Before Engine's static initialiser runs: no download attempt, no telemetry (inference.md §1.2).
        setIfAbsent("ai.djl.offline", "DJL_OFFLINE", "true");
        setIfAbsent("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", null, DEFAULT_THREADS);
        try {
            Class<?> type = Class.forName(BACKEND_CLASS, true, loader);
            return Optional.of((TorchBackend) type.getConstructor(int.class).newInstance(maxCachedModels));
        } catch (InvocationTargetException e) {
            return failed(whyNot, e.getCause() == null ? e : e.getCause());
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return failed(whyNot, e);
        }
    }

    private static Optional<TorchBackend> failed(StringBuilder whyNot, Throwable cause) {
        LOG.log(Level.WARNING, "the TorchScript runtime is on the class path but did not start", cause);
        StringBuilder reason = new StringBuilder(String.valueOf(cause.getMessage()));
        for (Throwable c = cause.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            reason.append(": ").append(c.getMessage());
        }
        whyNot.append("the TorchScript runtime (DJL + libtorch) did not start: ").append(reason)
                .append(" (see the server log and README, \"Inference runtime\")");
        return Optional.empty();
    }

    private static boolean loadable(ClassLoader loader) {
        if (loader == null) {
            return false;
        }
        try {
            Class.forName(ENGINE_CLASS, false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static void setIfAbsent(String property, String env, String value) {
        if (System.getProperty(property) == null && (env == null || System.getenv(env) == null)) {
            System.setProperty(property, value);
        }
    }
}
