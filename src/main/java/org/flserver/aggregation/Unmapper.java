package org.flserver.aggregation;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Releases a file mapping at once instead of when the garbage collector gets round to it, through
 * {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported, which Java 17 exports; the same
 * route Lucene and Netty take). Without that, mapped windows would pile up in the resident set.
 * {@link #AVAILABLE} is false when the method cannot be reached; callers then do not map at all.
 *
 * <p>The caller must guarantee that neither the buffer nor any view of it is used afterwards:
 * accessing unmapped memory crashes the JVM.
 */
final class Unmapper {

    private static final MethodHandle INVOKE_CLEANER = find();

    /** Whether {@link #unmap} works on this JVM. */
    static final boolean AVAILABLE = INVOKE_CLEANER != null;

    private Unmapper() {
    }

    private static MethodHandle find() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field f = unsafeClass.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            MethodHandle h = MethodHandles.lookup().findVirtual(unsafeClass, "invokeCleaner",
                    MethodType.methodType(void.class, ByteBuffer.class));
            return h.bindTo(unsafe);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Unmaps {@code m} now. */
    static void unmap(MappedByteBuffer m) {
        try {
            INVOKE_CLEANER.invokeExact((ByteBuffer) m);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
