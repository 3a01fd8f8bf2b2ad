package org.flserver.inference.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtEngineProvider;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.TorchBackend;
import org.flserver.inference.TorchScriptArchiveCheck;
import org.flserver.inference.djl.ModuleCache.Use;
import org.flserver.tensor.WeightFile;

/**
 * {@link TorchBackend} on Deep Java Library's PyTorch engine with its bundled libtorch (inference.md).
 * Only {@link org.flserver.inference.TorchBackends} creates it, by reflection, once it has seen DJL
 * on the server's class path: nothing else in the WAR names a DJL type.
 *
 * <ul>
 *   <li>Modules are loaded offline from the model store, checked first by the server's own archive
 *       reader (a file that is no TorchScript never reaches libtorch), and kept per file hash in a
 *       bounded {@link ModuleCache}.</li>
 *   <li>Forward and MC-dropout calls share one module in eval mode and call {@code forward} through
 *       TorchScript's interpreter directly ({@code forward(x)} and {@code forward(x, True)}), never
 *       DJL's train/eval switch: MC dropout is the module's own per-call flag (inference.md §3 a),
 *       so BatchNorm stays in eval mode and concurrent calls do not disturb each other.</li>
 *   <li>SWAG writes sampled parameters into a private instance (load option {@code trainParam},
 *       then frozen: inference.md §4).</li>
 *   <li>libtorch has one random generator per process. Seeded calls hold it alone (a write lock;
 *       every other call holds a read lock), seed it like {@code torch.manual_seed(seed)} and leave
 *       it re-seeded at random, so that unseeded calls stay unpredictable.</li>
 * </ul>
 */
public final class DjlBackend implements TorchBackend {

    private static final Logger LOG = Logger.getLogger(DjlBackend.class.getName());

    static final String ENGINE = "PyTorch";

    static final String NOT_TORCHSCRIPT = TorchScriptArchiveCheck.NOT_TORCHSCRIPT;

    /**
     * Tests of the sandbox set this on a worker's JVM to let modules the archive check refuses reach
     * libtorch, so that what the sandbox itself contains can be shown. The server never sets it.
     */
    public static final String UNCHECKED_MODULES = "fl.inference.test.unchecked-modules";

    static final String NO_MC_FLAG = "MC dropout needs a module whose forward takes a flag: "
            + "def forward(self, x, mc: bool = False) using F.dropout(x, p, self.training or mc), "
            + "saved with torch.jit.script and torch.jit.save — see README";

    /** The interpreter's refusals of {@code forward(x, True)} for a forward without a bool second argument. */
    private static final java.util.regex.Pattern SIGNATURE = java.util.regex.Pattern.compile(
            "Expected at most \\d+ argument|for argument '\\w+' but instead found type 'bool'");

    /** Idle private (SWAG) instances kept per model. */
    private static final int MAX_IDLE_PRIVATE = 2;

    private static final ReentrantReadWriteLock GENERATOR = new ReentrantReadWriteLock();
    private static final SecureRandom RESEED = new SecureRandom();

    private final ModuleCache<LoadedModule> cache;
    private final Engine engine;

    /**
     * Starts the PyTorch engine (extracting libtorch into DJL's cache on the first start) and an
     * empty module cache of {@code maxCachedModels} models.
     *
     * @throws RuntimeException or {@link Error} when the engine cannot start
     */
    public DjlBackend(int maxCachedModels) {
        long start = System.nanoTime();
        if (!Engine.hasEngine(ENGINE)) {
            // Engine's static initialiser looks for providers through the thread's context class
            // loader; if that could not see the engine jar, register it from ours.
            Engine.registerEngine(new PtEngineProvider());
        }
        engine = Engine.getEngine(ENGINE);
        cache = new ModuleCache<>(maxCachedModels, MAX_IDLE_PRIVATE, this::load);
        String malloc = MallocTuning.apply();
        LOG.info(() -> String.format(Locale.ROOT, "TorchScript runtime: %s %s (DJL %s) started in %d ms; "
                        + "intra-op threads %d; at most %d cached models; %s", ENGINE, engine.getVersion(),
                Engine.getDjlVersion(), (System.nanoTime() - start) / 1_000_000, JniUtils.getNumThreads(),
                maxCachedModels, malloc));
    }

    /** The engine's name and version, e.g. {@code PyTorch 2.7.1}. */
    public String describe() {
        return ENGINE + " " + engine.getVersion();
    }

    @Override
    public String toString() {
        return describe();
    }

    @Override
    public Tensor forward(ModuleFile module, Tensor input) throws InferenceException {
        try (ModuleCache<LoadedModule>.Lease lease = cache.acquire(module, Use.SHARED);
             PtNDManager manager = newManager()) {
            PtNDArray x = Tensors.toNative(manager, input);
            // a module may draw random numbers in its forward: not while a seeded call runs
            return withGenerator(null, () -> Tensors.fromNative(run(lease.module().block(), manager, x, false)));
        } catch (EngineException e) {
            throw inputError(e);
        }
    }

    @Override
    public List<Tensor> forwardMcDropout(ModuleFile module, Tensor input, int passes, Long seed)
            throws InferenceException {
        if (passes < 1) {
            throw new InferenceException(400, "MC dropout needs at least one pass, not " + passes);
        }
        try (ModuleCache<LoadedModule>.Lease lease = cache.acquire(module, Use.SHARED);
             PtNDManager manager = newManager()) {
            PtSymbolBlock block = lease.module().block();
            PtNDArray x = Tensors.toNative(manager, input);
            return withGenerator(seed, () -> repeat(passes, manager, (i, pass) -> {
                try {
                    return run(block, pass, x, true);
                } catch (EngineException e) {
                    throw i == 0 ? mcError(block, manager, x, e) : inputError(e);
                }
            }));
        } catch (EngineException e) {
            throw inputError(e);
        }
    }

    @Override
    public long parameterCount(ModuleFile module) throws InferenceException {
        try (ModuleCache<LoadedModule>.Lease lease = cache.acquire(module, Use.SHARED)) {
            return lease.module().parameterCount();
        } catch (EngineException e) {
            throw new InferenceException(400, "the module's parameters cannot be read: " + summary(e), e);
        }
    }

    @Override
    public List<Tensor> forwardSwag(ModuleFile module, Tensor input, float[] mean, float[] secondMoment,
                                    int samples, Long seed) throws InferenceException {
        if (samples < 1) {
            throw new InferenceException(400, "SWAG needs at least one sample, not " + samples);
        }
        long p = parameterCount(module);
        if (mean.length != p || secondMoment.length != p) {
            throw new InferenceException(400, "the SWAG moments have " + mean.length + " and "
                    + secondMoment.length + " values, but the module has " + p
                    + " parameters (parameters_to_vector(model.parameters()))");
        }
        try (ModuleCache<LoadedModule>.Lease lease = cache.acquire(module, Use.PRIVATE);
             PtNDManager manager = newManager()) {
            LoadedModule instance = lease.module();
            PtNDArray x = Tensors.toNative(manager, input);
            NDArray first = manager.create(mean);
            NDArray second = manager.create(secondMoment);
            NDArray std = second.sub(first.mul(first)).maximum(0f).sqrt();
            return withGenerator(seed, () -> repeat(samples, manager, (i, sample) -> {
                // w = mean + std * z, z ~ N(0, 1) over the whole vector: torch.randn(P) in Python
                NDArray w = sample.randomNormal(new Shape(p)).muli(std).addi(first);
                long offset = 0;
                for (PtNDArray param : instance.parameters()) {
                    long n = param.size();
                    NDArray slice = w.get(new NDIndex("{}:{}", offset, offset + n)).reshape(param.getShape());
                    if (slice.getDataType() != param.getDataType()) {
                        slice = slice.toType(param.getDataType(), false);
                    }
                    // a copy into the module's own storage (never NDArray.set(Buffer): inference.md §4)
                    param.set(new NDIndex("..."), slice);
                    offset += n;
                }
                return run(instance.block(), sample, x, false);
            }));
        } catch (EngineException e) {
            throw inputError(e);
        }
    }

    /** Work that draws from libtorch's random generator (or must not run while a seeded call does). */
    private interface Draws<T> {
        T run() throws InferenceException;
    }

    /** One pass of a repeated call, on a manager freed after the pass. */
    private interface Pass {
        NDArray run(int index, PtNDManager pass) throws InferenceException;
    }

    /**
     * Runs {@code draws} with libtorch's generator: alone and seeded like {@code torch.manual_seed(seed)}
     * when {@code seed} is given (re-seeded at random afterwards), else beside other unseeded calls.
     */
    private static <T> T withGenerator(Long seed, Draws<T> draws) throws InferenceException {
        Lock lock = seed != null ? GENERATOR.writeLock() : GENERATOR.readLock();
        lock.lock();
        try {
            if (seed != null) {
                JniUtils.setSeed(seed);
            }
            return draws.run();
        } finally {
            if (seed != null) {
                JniUtils.setSeed(RESEED.nextLong());
            }
            lock.unlock();
        }
    }

    /** {@code n} passes, each output copied to Java before the pass's native memory is freed. */
    private static List<Tensor> repeat(int n, PtNDManager manager, Pass pass) throws InferenceException {
        List<Tensor> outputs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            try (PtNDManager sub = (PtNDManager) manager.newSubManager()) {
                outputs.add(Tensors.fromNative(pass.run(i, sub)));
            }
        }
        return outputs;
    }

    @Override
    public void close() {
        cache.close();
    }

    /** Loads {@code file} for {@code use}; called by the cache, once per hash and use. */
    private LoadedModule load(ModuleFile file, Use use) throws InferenceException {
        if (!Boolean.getBoolean(UNCHECKED_MODULES)) {
            TorchScriptArchiveCheck.requireTorchScript(file.path());
        }
        long start = System.nanoTime();
        Model model = Model.newInstance("fl-" + file.sha256(), Device.cpu(), ENGINE);
        try {
            model.load(file.path(), null, use == Use.PRIVATE ? Map.of("trainParam", "true") : Map.of());
            if (use == Use.PRIVATE) {
                // trainParam leaves requires_grad on, and grad mode is per thread: from a request thread
                // every in-place write would fail (inference.md §4).
                model.getBlock().freezeParameters(true);
            }
            LoadedModule loaded = new LoadedModule(model);
            LOG.fine(() -> String.format(Locale.ROOT, "loaded %s (%s) in %d ms", file.sha256(), use,
                    (System.nanoTime() - start) / 1_000_000));
            return loaded;
        } catch (VirtualMachineError e) {
            model.close();
            throw e;
        } catch (Throwable t) {
            // c10::Error arrives as EngineException; anything else (MalformedModelException, an Error
            // from JNI) is no less a file libtorch could not take.
            model.close();
            LOG.log(Level.FINE, "libtorch could not load " + file.sha256(), t);
            if (t instanceof IOException io && !(t instanceof java.io.FileNotFoundException)) {
                throw new UncheckedIOException(io);
            }
            throw new InferenceException(400, "inference needs a TorchScript model (torch.jit.save) that "
                    + describe() + " can load; loading failed: " + summary(t), t);
        }
    }

    private static PtNDManager newManager() {
        return (PtNDManager) NDManager.newBaseManager(Device.cpu(), ENGINE);
    }

    /**
     * {@code block.forward(x)} or {@code block.forward(x, True)} through TorchScript's interpreter,
     * its one tensor result attached to {@code manager}.
     */
    private static NDArray run(PtSymbolBlock block, PtNDManager manager, PtNDArray x, boolean mc)
            throws InferenceException {
        String optimizer = System.getProperty("ai.djl.pytorch.graph_optimizer");
        if (optimizer != null) {
            JniUtils.setGraphExecutorOptimize(Boolean.parseBoolean(optimizer)); // per thread, as DJL does
        }
        IValue in = IValue.from(x);
        IValue flag = mc ? IValue.from(true) : null;
        IValue out = null;
        try {
            out = mc ? block.forward(in, flag) : block.forward(in);
            return single(out, manager);
        } finally {
            in.close();
            if (flag != null) {
                flag.close();
            }
            if (out != null) {
                out.close();
            }
        }
    }

    /** The one tensor of a result: a tensor, or a tuple or list holding exactly one. */
    private static NDArray single(IValue out, PtNDManager manager) throws InferenceException {
        if (out.isTensor()) {
            return out.toTensor(manager);
        }
        if (out.isTensorList()) {
            PtNDArray[] list = out.toTensorArray(manager);
            if (list.length == 1) {
                return list[0];
            }
        } else if (out.isTuple()) {
            IValue[] items = out.toIValueTuple();
            try {
                if (items.length == 1 && items[0].isTensor()) {
                    return items[0].toTensor(manager);
                }
            } finally {
                for (IValue item : items) {
                    item.close();
                }
            }
        }
        throw new InferenceException(400, "inference needs a module whose forward returns exactly one tensor; "
                + "this one returns " + out.getType());
    }

    /**
     * The first pass {@code forward(x, True)} failed: a module without the flag (its plain forward
     * runs, or the interpreter refused the call's arguments) or an input the module cannot take.
     */
    private static InferenceException mcError(PtSymbolBlock block, PtNDManager manager, PtNDArray x,
                                              EngineException e) {
        String message = String.valueOf(e.getMessage());
        boolean plainRuns;
        try (PtNDManager probe = (PtNDManager) manager.newSubManager()) {
            run(block, probe, x, false);
            plainRuns = true;
        } catch (EngineException | InferenceException other) {
            plainRuns = false;
        }
        if (plainRuns || SIGNATURE.matcher(message).find()) {
            return new InferenceException(400, NO_MC_FLAG + " (" + summary(e) + ")", e);
        }
        return inputError(e);
    }

    private static InferenceException inputError(EngineException e) {
        return new InferenceException(400, "the module cannot run on this input: " + summary(e), e);
    }

    /**
     * The line of a libtorch error that says what went wrong (e.g. {@code RuntimeError: mat1 and
     * mat2 shapes cannot be multiplied (2x7 and 8x16)}), without TorchScript's tracebacks and C++
     * frames, at most 300 characters.
     */
    static String summary(Throwable t) {
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        String[] lines = message.split("\n");
        String best = null;
        for (String line : lines) {
            String s = line.strip();
            if (s.matches("^[A-Za-z_.]*(Error|Exception): .*")) {
                best = s; // the last such line is the innermost cause
            }
        }
        if (best == null) {
            best = lines.length == 0 ? message : lines[0].strip();
        }
        int frames = best.indexOf("Exception raised from");
        if (frames > 0) {
            best = best.substring(0, frames).strip();
        }
        return best.length() > 300 ? best.substring(0, 300) + "…" : best;
    }
}
