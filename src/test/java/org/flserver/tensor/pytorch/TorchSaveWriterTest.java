package org.flserver.tensor.pytorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.flserver.tensor.pytorch.TorchSaveSamples.floats;
import static org.flserver.tensor.pytorch.TorchSaveSamples.longs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.flserver.tensor.DType;
import org.flserver.tensor.DenseTensor;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.pytorch.TorchSaveWriter.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TorchSaveWriter} read back with the project's own validating reader ({@link WeightFiles})
 * and with {@link ZipFile}: names, dtypes, shapes, strides, offsets and the exact bytes. That torch
 * itself loads the files ({@code weights_only=True}) is checked by {@code TorchSaveWriterPythonIT}.
 */
class TorchSaveWriterTest {

    @TempDir
    Path dir;

    /** The three sample structures in one archive. */
    static Map<String, Object> sample() {
        Map<String, Object> root = new LinkedHashMap<>(TorchSaveSamples.inferenceResult());
        root.put("dtypes", TorchSaveSamples.allDtypes());
        root.put("edges", TorchSaveSamples.edgeShapes());
        return root;
    }

    @Test
    void everyTensorReadsBackWithItsNameDtypeShapeAndBytes() throws Exception {
        Map<String, Object> root = sample();
        Path file = write("result", root);
        WeightFile f = WeightFiles.open(file);
        assertEquals(FormatKind.STATE_DICT, f.kind());
        assertEquals("3\n", f.metadata().get("version"));
        assertEquals("little", f.metadata().get("byteorder"));

        Map<String, TensorData> expected = flatten("", root, new LinkedHashMap<>());
        assertEquals(List.copyOf(expected.keySet()), f.tensors().stream().map(TensorInfo::name).toList());
        assertEquals(expected.size(), f.storages().size());
        byte[] content = Files.readAllBytes(file);
        int i = 0;
        for (Map.Entry<String, TensorData> e : expected.entrySet()) {
            TensorData t = e.getValue();
            TensorInfo info = f.tensors().get(i);
            assertEquals(t.dtype(), info.dtype(), e.getKey());
            assertEquals(boxed(t.shape()), info.shape(), e.getKey());
            assertEquals(boxed(contiguousStride(t.shape())), info.stride(), e.getKey());
            assertEquals(0, info.storageOffset());
            assertEquals(Integer.toString(i), info.storageKey(), "storages are numbered in pickle order");
            StorageInfo s = f.storage(info.storageKey()).orElseThrow();
            assertEquals(t.dtype(), s.dtype());
            assertEquals(t.numel(), s.numel(), e.getKey());
            assertEquals("cpu", s.location());
            assertEquals(0, s.offset() % 64, "payload of " + e.getKey() + " is 64-byte aligned");
            assertArrayEquals(bytes(t), Arrays.copyOfRange(content, (int) s.offset(), (int) (s.offset() + s.length())),
                    e.getKey());
            i++;
        }
    }

    @Test
    void zipEntriesAreStoredWithCorrectCrcsInTorchOrder() throws Exception {
        Path file = write("result", sample());
        List<String> names = new ArrayList<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            for (ZipEntry e : Collections.list(zip.entries())) {
                names.add(e.getName());
                assertEquals(ZipEntry.STORED, e.getMethod(), e.getName());
                byte[] content;
                try (InputStream in = zip.getInputStream(e)) {
                    content = in.readAllBytes();
                }
                CRC32 crc = new CRC32();
                crc.update(content);
                assertEquals(crc.getValue(), e.getCrc(), e.getName());
                assertEquals(content.length, e.getSize(), e.getName());
            }
            assertEquals("little", new String(zip.getInputStream(zip.getEntry("result/byteorder")).readAllBytes()));
        }
        List<String> expected = new ArrayList<>(List.of("result/data.pkl", "result/byteorder"));
        for (int i = 0; i < 21; i++) {
            expected.add("result/data/" + i);
        }
        expected.add("result/version");
        assertEquals(expected, names);
    }

    @Test
    void preparedSizeIsExactAndWritingTwiceGivesTheSameBytes() throws Exception {
        TorchSaveWriter.Archive a = TorchSaveWriter.prepare("archive", sample());
        ByteArrayOutputStream first = new ByteArrayOutputStream();
        a.writeTo(first);
        ByteArrayOutputStream second = new ByteArrayOutputStream();
        a.writeTo(second);
        assertEquals(a.size(), first.size());
        assertArrayEquals(first.toByteArray(), second.toByteArray());
    }

    @Test
    void directAndSlicedBuffersWriteTheSameArchiveAsHeapBuffers() throws Exception {
        float[] values = new float[50_000];  // larger than the writer's 64 KiB chunk
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.25f - 7f;
        }
        TensorData heap = floats(new long[]{values.length}, values);
        ByteBuffer direct = ByteBuffer.allocateDirect(values.length * 4 + 12).order(ByteOrder.LITTLE_ENDIAN);
        direct.putInt(-1).putInt(-1);  // bytes before the tensor that must not be written
        direct.asFloatBuffer().put(values);
        direct.position(8).limit(8 + values.length * 4);
        byte[] fromHeap = toBytes(Map.of("t", heap));
        byte[] fromDirect = toBytes(Map.of("t", new TensorData(DType.FLOAT32, new long[]{values.length}, direct)));
        assertArrayEquals(fromHeap, fromDirect);
        assertEquals(8, direct.position(), "the caller's buffer position is left alone");

        ByteBuffer big = ByteBuffer.allocate(values.length * 4 + 20);
        big.position(20);
        big.put(bytes(heap));
        big.position(20);
        assertArrayEquals(fromHeap, toBytes(Map.of("t", new TensorData(DType.FLOAT32, new long[]{values.length},
                big))));
    }

    /** A caller's own tensor type (the inference API's) is written as it is, without conversion. */
    record OwnTensor(DType dtype, long[] shape, ByteBuffer data) implements DenseTensor {
    }

    @Test
    void anyDenseTensorIsWrittenLikeTensorData() throws Exception {
        TensorData t = floats(new long[]{2, 2}, 1f, 2f, 3f, 4f);
        Map<String, Object> own = Map.of("inference", new OwnTensor(t.dtype(), t.shape(), t.data()),
                "uncertainty", Map.of("std", new OwnTensor(t.dtype(), t.shape(), t.data())));
        Map<String, Object> plain = Map.of("inference", t, "uncertainty", Map.of("std", t));
        assertArrayEquals(toBytes(plain), toBytes(own));
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a",
                Map.of("t", new OwnTensor(DType.FLOAT32, new long[]{3}, ByteBuffer.allocate(4)))));
    }

    @Test
    void zip64LayoutReadsBackTheSame() throws Exception {
        Map<String, Object> root = sample();
        TorchSaveWriter.Archive a = TorchSaveWriter.prepare("far", root, 0);
        Path file = dir.resolve("far.pt");
        try (OutputStream out = Files.newOutputStream(file)) {
            a.writeTo(out);
        }
        assertEquals(a.size(), Files.size(file));
        WeightFile far = WeightFiles.open(file);
        WeightFile near = WeightFiles.open(write("far", root));
        assertEquals(near.tensors(), far.tensors());
        assertEquals(near.storages().stream().map(StorageInfo::offset).toList(),
                far.storages().stream().map(StorageInfo::offset).toList());
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertEquals(24, zip.size());
            assertEquals("3\n", new String(zip.getInputStream(zip.getEntry("far/version")).readAllBytes()));
        }
    }

    @Test
    void emptyRootAndBareNestingAreValid() throws Exception {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("inference", longs(new long[]{0}));
        root.put("uncertainty", Map.of());
        WeightFile f = WeightFiles.open(write("archive", root));
        assertEquals(List.of("inference"), f.tensors().stream().map(TensorInfo::name).toList());
        assertEquals(0, f.storages().get(0).length());
    }

    @Test
    void badArgumentsAreRefused() {
        TensorData t = floats(new long[]{1}, 1f);
        for (String name : new String[]{"", ".", "..", "a/b", "a b", "ä", "x".repeat(101)}) {
            assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare(name, Map.of("t", t)), name);
        }
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a", Map.of("t", "text")));
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a", Map.of("t", Map.of(1, t))));
        Map<String, Object> nullValue = new LinkedHashMap<>();
        nullValue.put("t", null);
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a", nullValue));
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a", Map.of("\uD800", t)));
        Map<String, Object> deep = Map.of("t", t);
        for (int i = 0; i < TorchSaveWriter.MAX_DEPTH; i++) {
            deep = Map.of("d", deep);
        }
        Map<String, Object> tooDeep = deep;
        assertThrows(IllegalArgumentException.class, () -> TorchSaveWriter.prepare("a", tooDeep));
        assertThrows(IllegalArgumentException.class,
                () -> new TensorData(DType.FLOAT32, new long[]{2}, ByteBuffer.allocate(4)));
        assertThrows(IllegalArgumentException.class,
                () -> new TensorData(DType.FLOAT32, new long[]{-1}, ByteBuffer.allocate(0)));
    }

    private Path write(String name, Map<String, ?> root) throws IOException {
        Path file = dir.resolve(name + ".pt");
        try (OutputStream out = Files.newOutputStream(file)) {
            TorchSaveWriter.write(out, name, root);
        }
        return file;
    }

    private static byte[] toBytes(Map<String, ?> root) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TorchSaveWriter.write(out, root);
        return out.toByteArray();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, TensorData> flatten(String prefix, Map<String, ?> map, Map<String, TensorData> into) {
        for (Map.Entry<String, ?> e : map.entrySet()) {
            String name = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (e.getValue() instanceof TensorData t) {
                into.put(name, t);
            } else {
                flatten(name, (Map<String, ?>) e.getValue(), into);
            }
        }
        return into;
    }

    static long[] contiguousStride(long[] shape) {
        long[] stride = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return stride;
    }

    private static List<Long> boxed(long[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    static byte[] bytes(TensorData t) {
        ByteBuffer b = t.data();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
