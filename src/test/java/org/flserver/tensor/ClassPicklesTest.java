package org.flserver.tensor;

import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole-module pickles whose classes live anywhere (a library such as torchvision, the user's own
 * package): a class used only as a class (NEWOBJ, NEWOBJ_EX, {@code copyreg._reconstructor} with base
 * {@code object}) followed by BUILD is read symbolically; every other use of a class outside the
 * exact lists is refused, and so are views with too many elements. The pickles are crafted byte by
 * byte here because PyTorch never writes the hostile ones.
 */
class ClassPicklesTest {

    private static final int NEWOBJ = 0x81;
    private static final int NEWOBJ_EX = 0x92;

    @TempDir
    Path dir;

    @Test
    void aClassOfTheUsersPackageIsReadAsAModule() throws IOException {
        WeightFile f = open(module(p -> newObj(p, "mysite.nets", "Net")));
        assertEquals(FormatKind.MODULE, f.kind());
        assertEquals(List.of("w"), f.tensors().stream().map(TensorInfo::name).toList());
        assertEquals(List.of(3L), f.tensors().get(0).shape());
    }

    @Test
    void newObjExWithoutArgumentsIsTheSameObject() throws IOException {
        WeightFile plain = open(module(p -> newObj(p, "torchvision.models.resnet", "ResNet")));
        WeightFile ex = open(module(p -> {
            global(p, "torchvision.models.resnet", "ResNet");
            p.put((byte) ')').put((byte) '}').put((byte) NEWOBJ_EX);
        }));
        assertEquals(plain.fingerprint(), ex.fingerprint());
    }

    @Test
    void reconstructorWithBaseObjectIsTheSameObject() throws IOException {
        WeightFile plain = open(module(p -> newObj(p, "mysite.nets", "Net")));
        for (String builtins : List.of("builtins", "__builtin__")) {
            WeightFile old = open(module(p -> reconstructor(p, "copy_reg", builtins, "object", false)));
            assertEquals(plain.fingerprint(), old.fingerprint());
        }
        assertEquals(plain.fingerprint(), open(module(p -> reconstructor(p, "copyreg", "builtins", "object", false)))
                .fingerprint());
    }

    @Test
    void reconstructorWithACallableAsBaseIsRefused() {
        refused(module(p -> reconstructor(p, "copyreg", "os", "system", false)),
                "_reconstructor with base 'os system' not allowed");
    }

    @Test
    void reconstructorWithAnotherClassAsBaseIsRefused() {
        refused(module(p -> reconstructor(p, "copyreg", "builtins", "dict", false)),
                "_reconstructor with base 'builtins dict' not allowed");
        refused(module(p -> reconstructor(p, "copyreg", "mysite.nets", "Base", false)),
                "_reconstructor with base 'mysite.nets Base' not allowed");
    }

    @Test
    void reconstructorWithAStateArgumentIsRefused() {
        refused(module(p -> reconstructor(p, "copyreg", "builtins", "object", true)),
                "_reconstructor with a state argument");
    }

    @Test
    void reconstructorOfACallableIsOnlyEverAnInertObject() throws IOException {
        // _reconstructor(os.system, object, None) is object.__new__(os.system) in Python: a TypeError,
        // never a call; here it is a symbolic object like any NEWOBJ target.
        WeightFile f = open(module(p -> reconstructor(p, "copyreg", "os", "system", "builtins", "object", false)));
        assertEquals(FormatKind.MODULE, f.kind());
        assertEquals(List.of("w"), f.tensors().stream().map(TensorInfo::name).toList());
    }

    @Test
    void anArbitraryClassCalledThroughReduceIsRefused() {
        for (String[] cls : List.of(new String[]{"mysite.nets", "Net"},
                new String[]{"torchvision.models.resnet", "ResNet"}, new String[]{"os", "system"},
                new String[]{"torch.nn.modules.linear", "Linear"})) {
            refused(module(p -> {
                global(p, cls[0], cls[1]);
                p.put((byte) '(');
                TorchTestFiles.unicode(p, "echo pwned");
                p.put((byte) 't').put((byte) 'R');
            }), "GLOBAL '" + cls[0] + " " + cls[1] + "' not allowed");
        }
    }

    @Test
    void aClassHeldAsAValueIsRefused() {
        refused(module(p -> newObj(p, "mysite.nets", "Net"), p -> {
            TorchTestFiles.unicode(p, "hook");
            global(p, "os", "system");
        }), "GLOBAL 'os system' is held as a value");
    }

    @Test
    void aPartialOfATorchNnClassIsReadAndOfAnythingElseRefused() throws IOException {
        // torchvision's VisionTransformer keeps norm_layer = partial(nn.LayerNorm, eps=1e-6)
        WeightFile f = open(module(p -> newObj(p, "mysite.nets", "Net"),
                p -> partial(p, "torch.nn.modules.normalization", "LayerNorm")));
        assertEquals(List.of("w"), f.tensors().stream().map(TensorInfo::name).toList());
        for (String[] fn : List.of(new String[]{"os", "system"}, new String[]{"mysite.nets", "Net"},
                new String[]{"torch", "load"})) {
            refused(module(p -> newObj(p, "mysite.nets", "Net"), p -> partial(p, fn[0], fn[1])),
                    "functools partial of '" + fn[0] + " " + fn[1] + "' not allowed");
        }
    }

    @Test
    void anObjectOfAnOpenClassWithoutBuildIsRefused() {
        byte[] pickle = pickle(p -> {
            p.put((byte) '}');
            TorchTestFiles.unicode(p, "m");
            newObj(p, "mysite.nets", "Net");
            p.put((byte) 's');
        });
        refused(TorchTestFiles.archive(pickle, new byte[0]), "object of class 'mysite.nets Net' has no BUILD state");
    }

    @Test
    void newObjWithArgumentsOrKeywordsIsRefused() {
        refused(module(p -> {
            global(p, "mysite.nets", "Net");
            p.put((byte) '(').put((byte) 'K').put((byte) 1).put((byte) 't').put((byte) NEWOBJ);
        }), "NEWOBJ of mysite.nets Net with constructor arguments");
        refused(module(p -> {
            global(p, "mysite.nets", "Net");
            p.put((byte) ')').put((byte) '}');
            TorchTestFiles.unicode(p, "k");
            p.put((byte) 'K').put((byte) 1).put((byte) 's').put((byte) NEWOBJ_EX);
        }), "NEWOBJ_EX of 'mysite.nets Net' with keyword arguments");
    }

    @Test
    void classNamesMustBeDottedIdentifiers() {
        for (String[] bad : List.of(new String[]{"mysite..nets", "Net"}, new String[]{"mysite.nets", "Net-1"},
                new String[]{"mysite.nets", "Net.Inner"}, new String[]{"1site", "Net"},
                new String[]{"a".repeat(300), "Net"})) {
            WeightFileException e = refused(module(p -> newObj(p, bad[0], bad[1])), "not allowed");
            assertTrue(e.getMessage().startsWith("GLOBAL '"), e.getMessage());
        }
    }

    @Test
    void theStrictPolicyStillListsModelClassesOneByOne() throws IOException {
        Path file = write(module(p -> newObj(p, "mysite.nets", "Net")));
        WeightFileException e = assertThrows(WeightFileException.class,
                () -> WeightFiles.open(file, PicklePolicy.strict()));
        assertTrue(e.getMessage().contains("GLOBAL 'mysite.nets Net' not allowed"), e.getMessage());
        assertEquals(FormatKind.MODULE,
                WeightFiles.open(file, PicklePolicy.strict().withModelClass("mysite.nets", "Net")).kind());
    }

    @Test
    void aViewWithMoreElementsThanThePerTensorLimitIsRefused() {
        // (2^31, 2^31) with stride (0, 0) stays inside a 12-element storage but has 2^62 elements.
        refused(TorchTestFiles.floatViews(new long[][]{{1L << 31, 1L << 31}}, new long[][]{{0, 0}}),
                "tensor 't0' [2147483648, 2147483648] has 4611686018427387904 elements, more than the limit of "
                        + (1L << 36) + " per tensor");
        refused(TorchTestFiles.floatViews(new long[][]{{(1L << 36) + 1}}, new long[][]{{0}}), "more than the limit of "
                + (1L << 36) + " per tensor");
    }

    @Test
    void aViewAtThePerTensorLimitIsRead() throws IOException {
        WeightFile f = open(TorchTestFiles.floatViews(new long[][]{{1L << 36}}, new long[][]{{0}}));
        assertEquals(1L << 36, f.tensors().get(0).numel());
    }

    @Test
    void viewsWithMoreElementsTogetherThanTheFileLimitAreRefused() throws IOException {
        long[][] sizes = new long[5][];
        long[][] strides = new long[5][];
        for (int i = 0; i < 5; i++) {
            sizes[i] = new long[]{1L << 36};
            strides[i] = new long[]{0};
        }
        refused(TorchTestFiles.floatViews(sizes, strides), "tensors have more than " + (1L << 38)
                + " elements together (limit per file; exceeded at tensor 't4')");
        assertEquals(4, open(TorchTestFiles.floatViews(Arrays.copyOf(sizes, 4), Arrays.copyOf(strides, 4)))
                .tensors().size());
    }

    // ---- crafting ------------------------------------------------------------------------------------

    private WeightFile open(byte[] archive) throws IOException {
        return WeightFiles.open(write(archive));
    }

    private Path write(byte[] archive) throws IOException {
        Path file = Files.createTempFile(dir, "crafted", ".pt");
        Files.write(file, archive);
        return file;
    }

    private WeightFileException refused(byte[] archive, String expected) {
        WeightFileException e = assertThrows(WeightFileException.class, () -> open(archive));
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should say '" + expected + "'");
        return e;
    }

    /** A module: {@code object} (pushed by {@code make}) with state {_parameters: {w: float[3]}}. */
    private static byte[] module(Consumer<ByteBuffer> make) {
        return module(make, p -> { });
    }

    /** As {@link #module(Consumer)}, with a further state entry (key and value pushed by {@code extra}). */
    private static byte[] module(Consumer<ByteBuffer> make, Consumer<ByteBuffer> extra) {
        byte[] pickle = pickle(p -> {
            make.accept(p);
            p.put((byte) '}').put((byte) '(');
            TorchTestFiles.unicode(p, "training");
            p.put((byte) 0x88);
            TorchTestFiles.unicode(p, "_parameters");
            TorchTestFiles.orderedDict(p);
            p.put((byte) '(');
            TorchTestFiles.unicode(p, "w");
            TorchTestFiles.floatView(p, 0, new long[]{3}, new long[]{1});
            p.put((byte) 'u');
            extra.accept(p);
            p.put((byte) 'u').put((byte) 'b');
        });
        return TorchTestFiles.archive(pickle, new byte[48]);
    }

    private static byte[] pickle(Consumer<ByteBuffer> body) {
        ByteBuffer p = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        p.put((byte) 0x80).put((byte) 2);
        body.accept(p);
        p.put((byte) '.');
        byte[] out = new byte[p.position()];
        p.flip().get(out);
        return out;
    }

    private static void newObj(ByteBuffer p, String module, String name) {
        global(p, module, name);
        p.put((byte) ')').put((byte) NEWOBJ);
    }

    /** State entry {@code norm_layer: functools.partial(module.name, eps=1e-06)} as Python pickles it. */
    private static void partial(ByteBuffer p, String module, String name) {
        TorchTestFiles.unicode(p, "norm_layer");
        global(p, "functools", "partial");
        global(p, module, name);
        p.put((byte) 0x85).put((byte) 'R').put((byte) '(');
        global(p, module, name);
        p.put((byte) ')').put((byte) '}');
        TorchTestFiles.unicode(p, "eps");
        p.put((byte) 'G').putLong(Long.reverseBytes(Double.doubleToLongBits(1e-6))); // BINFLOAT is big-endian
        p.put((byte) 's').put((byte) 'N').put((byte) 't').put((byte) 'b');
    }

    /** {@code copyreg._reconstructor(mysite.nets.Net, base, None or a state)}. */
    private static void reconstructor(ByteBuffer p, String copyreg, String baseModule, String baseName,
                                      boolean state) {
        reconstructor(p, copyreg, "mysite.nets", "Net", baseModule, baseName, state);
    }

    private static void reconstructor(ByteBuffer p, String copyreg, String clsModule, String clsName,
                                      String baseModule, String baseName, boolean state) {
        global(p, copyreg, "_reconstructor");
        p.put((byte) '(');
        global(p, clsModule, clsName);
        global(p, baseModule, baseName);
        if (state) {
            p.put((byte) 'K').put((byte) 1);
        } else {
            p.put((byte) 'N');
        }
        p.put((byte) 't').put((byte) 'R');
    }

    private static void global(ByteBuffer p, String module, String name) {
        TorchTestFiles.global(p, module, name);
    }
}
