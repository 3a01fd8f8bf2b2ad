package org.flserver.tensor.pytorch;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The allow-list of GLOBALs a pickle may name, by exact {@code (module, name)} pair and by how the
 * global is used. A pickle is refused at the first GLOBAL that is on no list; a listed global used
 * in the wrong way (a class REDUCE'd, a function NEWOBJ'd, a storage class outside a persistent id)
 * is refused where it is used.
 *
 * <p>Why exact pairs: a package prefix such as {@code torch.*} would admit {@code torch load},
 * {@code torch.hub load} or {@code torch.storage _load_from_bytes}. Nothing named here is ever
 * resolved or called; the list keeps the symbolic interpreter's input to shapes torch really writes.
 *
 * <p>Classes are the one open set: {@code torch.save(model)} names the class of every submodule,
 * and those live in torch.nn, in libraries such as torchvision, in the user's own package or in
 * {@code __main__}. A class used only as a class is inert here: it is the target of NEWOBJ or
 * NEWOBJ_EX (or the first argument of {@code copyreg._reconstructor} with base {@code object} and
 * no state, the older spelling of the same thing), the reader records its qualified name and the
 * state BUILD gives it, and nothing is imported, resolved or called. So {@link #standard()} admits
 * any syntactically valid {@code module.Class} in that role, while what REDUCE calls stays an exact
 * list; {@link #strict()} admits only the torch.nn classes and those added with
 * {@link #withModelClass} or {@link #withModelNamespace}. TorchScript classes live in the
 * compiler's own {@code __torch__} namespace.
 */
public final class PicklePolicy {

    static final Set<String> STATE_DICT_CALLABLES = Set.of(
            "collections OrderedDict",
            "torch._utils _rebuild_tensor_v2",
            "torch._utils _rebuild_tensor",
            "torch._utils _rebuild_parameter",
            "torch._utils _rebuild_parameter_with_state");

    static final Set<String> MODULE_CALLABLES = Set.of(
            "__builtin__ set", "builtins set", "__builtin__ frozenset", "builtins frozenset", "_codecs encode",
            // Python's default object reduce for protocols 0 and 1 (and objects whose class asks for it):
            // _reconstructor(cls, object, None) is object.__new__(cls); any other base or state is refused
            // where it is interpreted, because it would call base.__new__ and base.__init__.
            "copyreg _reconstructor", "copy_reg _reconstructor",
            // functools.partial(f) then BUILD (f, args, kwargs, dict): torchvision's vision_transformer keeps
            // norm_layer = partial(nn.LayerNorm, eps=1e-6) as a module attribute. Loading it only records f.
            "functools partial");

    /** The only base {@code copyreg._reconstructor} may name: {@code object} (no constructor runs). */
    private static final Set<String> RECONSTRUCTOR_BASES = Set.of("builtins object", "__builtin__ object");

    static final Set<String> TORCHSCRIPT_CALLABLES = Set.of(
            "collections OrderedDict",
            "torch._utils _rebuild_tensor_v2",
            "torch.jit._pickle build_intlist",
            "torch.jit._pickle build_tensorlist",
            "torch.jit._pickle build_doublelist",
            "torch.jit._pickle build_boollist",
            "torch.jit._pickle build_genericlist",
            "torch.jit._pickle restore_type_tag");

    /** Functions that module pickles hold as plain attribute values (never called). */
    static final Set<String> FUNCTION_VALUES = Set.of(
            "torch.nn.functional relu", "torch.nn.functional gelu", "torch.nn.functional silu",
            "torch.nn.functional leaky_relu", "torch.nn.functional elu", "torch.nn.functional sigmoid",
            "torch.nn.functional tanh", "torch.nn.functional softmax", "torch.nn.functional log_softmax",
            "torch relu", "torch tanh", "torch sigmoid",
            "torch float64", "torch float32", "torch float16", "torch bfloat16", "torch int64", "torch int32",
            "torch int16", "torch int8", "torch uint8", "torch bool",
            // torchvision's detection models (RegionProposalNetwork, RoIHeads) keep box_iou as box_similarity
            "torchvision.ops.boxes box_iou");

    /** The torch.nn layer classes a whole-module pickle may contain, by the module torch defines them in. */
    private static final Set<String> TORCH_NN_CLASSES = torchNnClasses();

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,200}");
    private static final Pattern DOTTED = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,200}(\\.[A-Za-z_][A-Za-z0-9_]{0,200}){0,30}");
    /** Longest module path of a class (real ones are well under 100 characters). */
    static final int MAX_MODULE_LENGTH = 256;

    private final Set<String> modelClasses;
    private final Set<String> modelNamespaces;
    private final boolean anyClass;

    private PicklePolicy(Set<String> modelClasses, Set<String> modelNamespaces, boolean anyClass) {
        this.modelClasses = Set.copyOf(modelClasses);
        this.modelNamespaces = Set.copyOf(modelNamespaces);
        this.anyClass = anyClass;
    }

    /**
     * torch's own callables, and any validly named class used only as a class (torch.nn's,
     * torchvision's, the user's package's or {@code __main__}'s model classes).
     */
    public static PicklePolicy standard() {
        return new PicklePolicy(Set.of(), Set.of("__main__"), true);
    }

    /** Only torch's own callables and torch.nn classes: user model classes must be listed one by one. */
    public static PicklePolicy strict() {
        return new PicklePolicy(Set.of(), Set.of(), false);
    }

    /** Also admits the class {@code module.name} as a NEWOBJ target (a deployment's own model class). */
    public PicklePolicy withModelClass(String module, String name) {
        Set<String> s = new HashSet<>(modelClasses);
        s.add(Objects.requireNonNull(module) + " " + Objects.requireNonNull(name));
        return new PicklePolicy(s, modelNamespaces, anyClass);
    }

    /** Also admits every class whose module is exactly {@code module} as a NEWOBJ target. */
    public PicklePolicy withModelNamespace(String module) {
        Set<String> s = new HashSet<>(modelNamespaces);
        s.add(Objects.requireNonNull(module));
        return new PicklePolicy(modelClasses, s, anyClass);
    }

    boolean isStorageClass(String module, String name) {
        return module.equals("torch") && name.endsWith("Storage")
                && org.flserver.tensor.DType.fromStorageClass(name).isPresent();
    }

    boolean isCallable(String module, String name, boolean torchscript) {
        String key = module + " " + name;
        return torchscript ? TORCHSCRIPT_CALLABLES.contains(key)
                : STATE_DICT_CALLABLES.contains(key) || MODULE_CALLABLES.contains(key);
    }

    /** Whether {@code module.name} may be instantiated symbolically (NEWOBJ target, reconstructed class). */
    boolean isClass(String module, String name, boolean torchscript) {
        if (module.length() > MAX_MODULE_LENGTH || !IDENTIFIER.matcher(name).matches()
                || !DOTTED.matcher(module).matches()) {
            return false;
        }
        if (torchscript) {
            return module.equals("__torch__") || module.startsWith("__torch__.");
        }
        return anyClass || isListedClass(module, name);
    }

    /**
     * A class named on a list (torch.nn, {@link #withModelClass}, {@link #withModelNamespace}): such a
     * class may also be held as a plain attribute value, an open-set class only as a class.
     */
    boolean isListedClass(String module, String name) {
        String key = module + " " + name;
        return TORCH_NN_CLASSES.contains(key) || modelClasses.contains(key) || modelNamespaces.contains(module);
    }

    boolean isReconstructorBase(String module, String name) {
        return RECONSTRUCTOR_BASES.contains(module + " " + name);
    }

    boolean isValue(String module, String name, boolean torchscript) {
        return !torchscript && FUNCTION_VALUES.contains(module + " " + name);
    }

    boolean isAllowed(String module, String name, boolean torchscript) {
        return isStorageClass(module, name) || isCallable(module, name, torchscript)
                || isClass(module, name, torchscript) || isValue(module, name, torchscript)
                || !torchscript && isReconstructorBase(module, name);
    }

    private static Set<String> torchNnClasses() {
        Set<String> s = new HashSet<>();
        add(s, "linear", "Identity", "Linear", "Bilinear", "LazyLinear", "NonDynamicallyQuantizableLinear");
        add(s, "conv", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d");
        add(s, "batchnorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm");
        add(s, "normalization", "LayerNorm", "GroupNorm", "LocalResponseNorm", "RMSNorm");
        add(s, "instancenorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d");
        add(s, "activation", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "GELU", "SiLU", "Mish", "ELU", "SELU", "CELU",
                "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "Hardswish", "Hardsigmoid",
                "Hardtanh", "GLU", "Tanhshrink", "MultiheadAttention");
        add(s, "container", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict");
        add(s, "dropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout");
        add(s, "pooling", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
                "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d");
        add(s, "sparse", "Embedding", "EmbeddingBag");
        add(s, "rnn", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell");
        add(s, "transformer", "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
                "TransformerDecoderLayer");
        add(s, "flatten", "Flatten", "Unflatten");
        add(s, "padding", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d");
        add(s, "pixelshuffle", "PixelShuffle", "PixelUnshuffle");
        add(s, "upsampling", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d");
        return Set.copyOf(s);
    }

    private static void add(Set<String> s, String file, String... classes) {
        for (String c : List.of(classes)) {
            s.add("torch.nn.modules." + file + " " + c);
        }
    }
}
