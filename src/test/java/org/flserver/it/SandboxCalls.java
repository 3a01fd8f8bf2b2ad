package org.flserver.it;

import java.nio.file.Path;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.sandbox.WorkerPool;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;

/**
 * The backend's calls (forward, MC dropout, SWAG) as one caller's requests to sandboxed workers,
 * so that tests of the runtime read like the backend's own tests.
 */
final class SandboxCalls {

    private final WorkerPool pool;
    private final String owner;
    private final long timeoutSeconds;

    SandboxCalls(WorkerPool pool, String owner, long timeoutSeconds) {
        this.pool = pool;
        this.owner = owner;
        this.timeoutSeconds = timeoutSeconds;
    }

    static WorkerPool.Key key(String owner, ModuleFile... modules) {
        SortedMap<String, Path> m = new TreeMap<>();
        for (ModuleFile f : modules) {
            m.put(f.sha256(), f.path());
        }
        return new WorkerPool.Key(owner, m);
    }

    Tensor forward(ModuleFile module, Tensor x) throws InferenceException {
        return call(module, new Request("NONE", List.of(module.sha256()), null, null, 1, null, null, null, x)).get(0);
    }

    List<Tensor> forwardMcDropout(ModuleFile module, Tensor x, int passes, Long seed) throws InferenceException {
        return call(module, new Request("MC_DROPOUT", List.of(module.sha256()), null, null, passes, seed, null, null,
                x));
    }

    List<Tensor> forwardSwag(ModuleFile module, Tensor x, float[] mean, float[] second, int samples, Long seed)
            throws InferenceException {
        return call(module, new Request("SWAG", List.of(module.sha256()), null, null, samples, seed, mean, second, x));
    }

    List<Tensor> call(ModuleFile module, Request request) throws InferenceException {
        Reply reply = pool.run(key(owner, module), request,
                System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds), () -> false);
        if (reply.status() != 200) {
            throw new InferenceException(reply.status(), reply.message());
        }
        return reply.outputs();
    }
}
