package org.flserver.inference;

import java.util.List;

/**
 * What the server needs from a TorchScript runtime (inference.md): run a module, run it with
 * dropout active (the per-call flag {@code forward(x, mc=True)} of inference.md §3 a), and run it
 * with its parameters replaced (SWAG, inference.md §4). Implementations load modules offline, cache them per
 * file hash in a bounded cache, and are safe under concurrent calls: a call that changes a module's
 * parameters works on a private instance.
 *
 * <p>This interface knows nothing of the runtime's types: the WAR must deploy and serve everything
 * else when the runtime is not on the server's class path ({@link TorchBackends}).
 */
public interface TorchBackend extends AutoCloseable {

    /** One forward pass in eval mode: {@code module(input)}, which must return one tensor. */
    Tensor forward(ModuleFile module, Tensor input) throws InferenceException;

    /**
     * {@code passes} forward passes {@code module(input, True)} with dropout active and BatchNorm in
     * eval mode. A module whose {@code forward} takes no such flag: 400 saying how to export one.
     * With a {@code seed}, the runtime's generator is seeded first and the passes run alone (same
     * masks as {@code torch.manual_seed(seed)} in Python), else they may run concurrently.
     */
    List<Tensor> forwardMcDropout(ModuleFile module, Tensor input, int passes, Long seed) throws InferenceException;

    /** The number of elements of the module's parameters ({@code parameters_to_vector} length). */
    long parameterCount(ModuleFile module) throws InferenceException;

    /**
     * SWAG (api.md §15.9): {@code samples} times, draw {@code w = mean + sqrt(max(second - mean², 0))
     * * z} with {@code z ~ N(0, 1)} over the flattened parameters (in {@code named_parameters()}
     * order), load {@code w} into a private instance of the module and run {@code module(input)}.
     * With a {@code seed}, the generator is seeded first so that the draws equal
     * {@code torch.manual_seed(seed); torch.randn(P)} per sample in Python.
     */
    List<Tensor> forwardSwag(ModuleFile module, Tensor input, float[] mean, float[] secondMoment, int samples,
                             Long seed) throws InferenceException;

    /** Releases every loaded module (undeploy). */
    @Override
    void close();
}
