package org.flserver.inference.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.util.Pair;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** One TorchScript module loaded into libtorch, and its parameters in {@code parameters()} order. */
final class LoadedModule implements ModuleCache.Module {

    private final Model model;
    private final PtSymbolBlock block;
    private List<PtNDArray> parameters; // guarded by this
    private long parameterCount = -1; // guarded by this

    LoadedModule(Model model) {
        this.model = model;
        this.block = (PtSymbolBlock) model.getBlock();
    }

    PtSymbolBlock block() {
        return block;
    }

    /**
     * The module's parameters as Python's {@code module.parameters()} lists them: in
     * {@code named_parameters()} order, each tensor once. DJL lists a tied parameter (one tensor
     * under two names, e.g. a decoder sharing an embedding's weight) once per name; Python, whose
     * {@code parameters_to_vector} defines the SWAG vector, lists it once, at its first name. The
     * arrays alias the module's tensors: writing into them changes the module.
     */
    synchronized List<PtNDArray> parameters() {
        if (parameters == null) {
            List<PtNDArray> unique = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            long n = 0;
            for (Pair<String, Parameter> p : block.getParameters()) {
                PtNDArray array = (PtNDArray) p.getValue().getArray();
                if (array.size() > 0 && !seen.add(identity(array))) {
                    continue;
                }
                unique.add(array);
                n += array.size();
            }
            parameters = List.copyOf(unique);
            parameterCount = n;
        }
        return parameters;
    }

    /** The length of {@code parameters_to_vector(module.parameters())}. */
    synchronized long parameterCount() {
        parameters();
        return parameterCount;
    }

    /**
     * Where a tensor's elements start, with its dtype and shape: equal for the two names of a tied
     * parameter. (A direct buffer over the tensor's own memory; JNA reads its address.)
     */
    private static String identity(NDArray array) {
        ByteBuffer direct = array.toByteBuffer(true);
        long address = Pointer.nativeValue(Native.getDirectBufferPointer(direct));
        return address + ":" + array.getDataType() + ":" + Arrays.toString(array.getShape().getShape());
    }

    @Override
    public void close() {
        model.close();
    }
}
