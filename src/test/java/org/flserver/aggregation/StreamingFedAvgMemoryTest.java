package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory bounded by one model, not by the clients: 50 client files of a 16 MB model are averaged in a separate JVM whose heap
 * ({@code -Xmx40m}) is smaller than three copies of one model (48 MB), so an implementation that held
 * clients or whole models in memory would fail with OutOfMemoryError. The child JVM is started by the
 * test itself (so the limit applies to exactly this run); afterwards every output element is checked
 * against the value the rounding rule gives.
 */
class StreamingFedAvgMemoryTest {

    private static final int CLIENTS = 50;
    private static final long PARAMS = 4L << 20; // 4M float32 = 16 MiB per file
    private static final String HEAP = "-Xmx40m";

    @TempDir
    Path dir;

    @Test
    void fiftyClientsUnderAHeapSmallerThanThreeModels() throws Exception {
        assertTrue(40L << 20 < 3 * PARAMS * 4, "the heap limit must be below three model copies");
        for (int i = 0; i < CLIENTS; i++) {
            SyntheticTorchFiles.write(dir.resolve("client" + i + ".pt"), "archive", PARAMS, i);
        }
        String cp = location(StreamingFedAvg.class) + File.pathSeparator + location(MemoryLimitedAggregation.class);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
                "--add-modules=jdk.incubator.vector", "-cp", cp, MemoryLimitedAggregation.class.getName(),
                dir.toString(), Integer.toString(CLIENTS))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "child JVM did not finish");
        assertEquals(0, p.exitValue(), "child JVM failed:\n" + output);
        Matcher max = Pattern.compile("maxMemory=(\\d+)").matcher(output);
        assertTrue(max.find() && Long.parseLong(max.group(1)) < 3 * PARAMS * 4, output);
        Matcher hwm = Pattern.compile("VmHWM: (\\d+) kB").matcher(output);
        if (hwm.find()) {
            long rssBytes = Long.parseLong(hwm.group(1)) * 1024;
            System.out.println("memory test: peak RSS of the child JVM " + (rssBytes >> 20) + " MiB for " + CLIENTS
                    + " x " + (PARAMS * 4 >> 20) + " MiB");
            assertTrue(rssBytes < 2 * PARAMS * 4 + (256L << 20), "peak RSS " + rssBytes);
        }
        checkOutput(dir.resolve("out.pt"));
    }

    private static void checkOutput(Path out) throws Exception {
        float[] expected = new float[1024];
        double total = CLIENTS * (CLIENTS + 1) / 2.0;
        for (int j = 0; j < 1024; j++) {
            double acc = 0.0;
            for (int i = 0; i < CLIENTS; i++) {
                acc += (double) SyntheticTorchFiles.value(i, j) * (i + 1);
            }
            expected[j] = (float) (acc / total);
        }
        WeightFile f = WeightFiles.open(out);
        long j = 0;
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.READ)) {
            List<StorageInfo> storages = f.storages();
            for (StorageInfo s : storages) {
                for (long pos = 0; pos < s.length(); ) {
                    buf.clear().limit((int) Math.min(buf.capacity(), s.length() - pos));
                    while (buf.hasRemaining()) {
                        ch.read(buf, s.offset() + pos + buf.position());
                    }
                    pos += buf.limit();
                    FloatBuffer fb = buf.flip().asFloatBuffer();
                    while (fb.hasRemaining()) {
                        float got = fb.get();
                        if (got != expected[(int) (j % 1024)]) {
                            throw new AssertionError("element " + j + ": " + got + " != " + expected[(int) (j % 1024)]);
                        }
                        j++;
                    }
                }
            }
        }
        assertEquals(PARAMS, j);
    }

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
