package org.flserver.inference.djl;

import com.sun.jna.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * glibc's allocator settings that libtorch wants (inference.md §1.4): libtorch allocates a fresh
 * activation of several MB per op, and with glibc's defaults each one may be a new {@code mmap}
 * whose page faults dominate the run time (conv models measured 3-6x slower, 560 k against 33 k
 * minor faults). Equivalent to starting the JVM with {@code MALLOC_MMAP_THRESHOLD_=268435456
 * MALLOC_TRIM_THRESHOLD_=268435456}, which the Maven plugin cannot set; applied through
 * {@code mallopt} when the runtime starts, so that it holds however the server was started. Costs
 * up to 256 MB of freed memory kept by the process.
 *
 * <p>Skipped when either variable is set (the operator chose) or when
 * {@code fl.inference.malloc-tuning} (env {@code FL_INFERENCE_MALLOC_TUNING}) is {@code false}; a C
 * library without {@code mallopt} (not glibc) is left alone.
 */
final class MallocTuning {

    private static final Logger LOG = Logger.getLogger(MallocTuning.class.getName());

    static final int THRESHOLD = 256 << 20;
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_MMAP_THRESHOLD = -3;

    private MallocTuning() {
    }

    /** Applies the settings once per process (what it did, for the log). */
    static synchronized String apply() {
        String setting = System.getProperty("fl.inference.malloc-tuning", System.getenv("FL_INFERENCE_MALLOC_TUNING"));
        if ("false".equalsIgnoreCase(setting)) {
            return "malloc tuning off (fl.inference.malloc-tuning=false)";
        }
        if (System.getenv("MALLOC_MMAP_THRESHOLD_") != null || System.getenv("MALLOC_TRIM_THRESHOLD_") != null) {
            return "malloc settings from the environment";
        }
        try {
            Function mallopt = Function.getFunction("c", "mallopt");
            int mmap = mallopt.invokeInt(new Object[] {M_MMAP_THRESHOLD, THRESHOLD});
            int trim = mallopt.invokeInt(new Object[] {M_TRIM_THRESHOLD, THRESHOLD});
            return mmap == 1 && trim == 1 ? "malloc tuned (mmap and trim thresholds 256 MiB)"
                    : "malloc tuning refused by the C library";
        } catch (RuntimeException | LinkageError e) {
            LOG.log(Level.FINE, "no mallopt", e);
            return "malloc tuning unavailable (" + e.getMessage() + ")";
        }
    }
}
