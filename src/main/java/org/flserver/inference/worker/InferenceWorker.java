package org.flserver.inference.worker;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.TorchBackend;
import org.flserver.inference.TorchBackends;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;

/**
 * The process that runs users' TorchScript: started by the server inside the sandbox (see
 * {@code org.flserver.inference.sandbox}), it sees only the module files it was started for and
 * answers inference requests from its standard input, one at a time, until the server closes the
 * pipe. The server itself never loads libtorch, so nothing a model does can touch the server's
 * memory, files or other users' requests.
 *
 * <p>Replies go to file descriptor 3, which the launcher points at the server's pipe; the process's
 * own standard output is sent to standard error, so that whatever libtorch or a model's
 * {@code print} writes can never be mistaken for a reply.
 *
 * <p>{@code --prepare} runs once per installation, outside any model: it starts the engine, which
 * unpacks libtorch into DJL's cache, and places JNA's native stub there, so that sandboxed workers
 * can run from a read-only cache.
 *
 * <p>Arguments: {@code --module <sha256>=<path>} for each module it may run, or {@code --prepare}.
 */
public final class InferenceWorker {

    /** Where {@code --prepare} puts JNA's native stub inside the DJL cache; workers load it from there. */
    public static final String JNA_DIR = "jna";

    private static final String JNA_STUB = "com/sun/jna/linux-x86-64/libjnidispatch.so";

    private final TorchBackend backend;
    private final Map<String, ModuleFile> modules;

    InferenceWorker(TorchBackend backend, Map<String, ModuleFile> modules) {
        this.backend = backend;
        this.modules = modules;
    }

    public static void main(String[] args) throws IOException {
        PrintStream err = System.err;
        System.setOut(err);
        if (args.length == 1 && args[0].equals("--prepare")) {
            System.exit(prepare(err));
        }
        Map<String, ModuleFile> modules = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].equals("--module")) {
                err.println("unknown argument " + args[i]);
                System.exit(2);
            }
            String[] kv = args[i + 1].split("=", 2);
            modules.put(kv[0], new ModuleFile(kv[0], Path.of(kv[1])));
        }
        StringBuilder whyNot = new StringBuilder();
        TorchBackend backend = TorchBackends.find(whyNot, Math.max(1, modules.size() + 1)).orElse(null);
        if (backend == null) {
            err.println("the TorchScript runtime did not start: " + whyNot);
            System.exit(3);
        }
        OutputStream replies = new FileOutputStream(descriptor(3));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(replies, 1 << 16));
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        WorkerProtocol.writeReady(out, backend.toString());
        new InferenceWorker(backend, modules).serve(in, out);
        System.exit(0);
    }

    /**
     * An inherited file descriptor. Reopening {@code /proc/self/fd/3} would need access to the pipe
     * as a file, which the sandbox's user does not have (the server created it); the launcher opens
     * {@code java.io} to this class for the one field that holds the number.
     */
    private static FileDescriptor descriptor(int number) {
        try {
            FileDescriptor fd = new FileDescriptor();
            Field field = FileDescriptor.class.getDeclaredField("fd");
            field.setAccessible(true);
            field.setInt(fd, number);
            return fd;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot use file descriptor " + number
                    + " (the JVM needs --add-opens=java.base/java.io=ALL-UNNAMED)", e);
        }
    }

    /** Answers requests until the server closes the pipe. */
    void serve(DataInputStream in, DataOutputStream out) throws IOException {
        // the server checked what it sends; these bounds only keep a broken frame from allocating wildly
        WorkerProtocol.Limits limits = new WorkerProtocol.Limits(Integer.MAX_VALUE - 8, Long.MAX_VALUE, 0,
                Integer.MAX_VALUE / 4 - 8, Integer.MAX_VALUE - 8);
        for (Request r; (r = WorkerProtocol.readRequest(in, limits)) != null; ) {
            Reply reply;
            try {
                reply = Reply.ok(run(r));
            } catch (InferenceException e) {
                reply = Reply.error(e.status(), e.getMessage());
            } catch (OutOfMemoryError e) {
                // the heap is no longer trustworthy: answer, then let the server start a fresh worker
                WorkerProtocol.writeReply(out, Reply.error(400, "the model needed more memory than an inference"
                        + " worker has"));
                System.exit(4);
                return;
            } catch (RuntimeException e) {
                reply = Reply.error(400, "the model failed: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            WorkerProtocol.writeReply(out, reply);
        }
    }

    /** Preprocessing, the shape check, then the method's forward passes; raw outputs, no statistics. */
    List<Tensor> run(Request r) throws InferenceException {
        Tensor x = r.preprocessing() == null ? r.input() : backend.forward(module(r.preprocessing()), r.input());
        checkShape(r.inputShape(), x);
        ModuleFile first = module(r.modules().get(0));
        return switch (r.method()) {
            case "NONE" -> List.of(backend.forward(first, x));
            case "MC_DROPOUT" -> backend.forwardMcDropout(first, x, r.samples(), r.seed());
            case "SWAG" -> backend.forwardSwag(first, x, r.swagMean(), r.swagSecond(), r.samples(), r.seed());
            case "ENSEMBLE" -> {
                List<Tensor> outputs = new ArrayList<>();
                for (String member : r.modules()) {
                    outputs.add(backend.forward(module(member), x));
                }
                yield outputs;
            }
            default -> throw new InferenceException(400, "Unknown uncertainty method " + r.method() + ".");
        };
    }

    /** The reference's answer when the (preprocessed) input does not fit {@code input_shape}. */
    public static final String SHAPE_MISMATCH = "Input shape does not match model input shape.";

    /** 400 unless the tensor has the declared rank and every declared (non-negative) dimension. */
    static void checkShape(long[] declared, Tensor x) throws InferenceException {
        if (declared == null) {
            return;
        }
        long[] shape = x.shape();
        boolean fits = declared.length == shape.length;
        for (int d = 0; fits && d < shape.length; d++) {
            fits = declared[d] < 0 || declared[d] == shape[d];
        }
        if (!fits) {
            throw new InferenceException(400, SHAPE_MISMATCH);
        }
    }

    private ModuleFile module(String sha256) throws InferenceException {
        ModuleFile m = modules.get(sha256);
        if (m == null) {
            throw new InferenceException(500, "this inference worker was not started for module " + sha256);
        }
        return m;
    }

    /** Starts the engine once (unpacking libtorch) and copies JNA's stub into the cache. */
    private static int prepare(PrintStream err) throws IOException {
        StringBuilder whyNot = new StringBuilder();
        TorchBackend backend = TorchBackends.find(whyNot, 1).orElse(null);
        if (backend == null) {
            err.println(whyNot);
            return 3;
        }
        backend.close();
        String cache = System.getProperty("DJL_CACHE_DIR");
        if (cache == null) {
            err.println("DJL_CACHE_DIR is not set");
            return 2;
        }
        Path dir = Path.of(cache, JNA_DIR);
        Files.createDirectories(dir);
        try (InputStream stub = InferenceWorker.class.getClassLoader().getResourceAsStream(JNA_STUB)) {
            if (stub == null) {
                err.println("JNA's native stub " + JNA_STUB + " is not on the class path");
                return 2;
            }
            Path tmp = Files.createTempFile(dir, "stub", ".tmp");
            Files.copy(stub, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, dir.resolve("libjnidispatch.so"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        }
        return 0;
    }
}
