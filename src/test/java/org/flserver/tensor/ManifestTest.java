package org.flserver.tensor;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reader against PyTorch's own account of each fixture: every file under {@code models/} and {@code fedavg/} is read and matches its
 * manifest exactly (tables) and numerically (per-tensor float64 sum and sum of squares within 1e-9
 * relative, integer sums exactly), the numbers being read through the reported views.
 */
class ManifestTest {

    @TestFactory
    Stream<DynamicTest> everyFixtureMatchesItsManifest() {
        List<Path> files = Fixtures.modelFiles("models", "fedavg");
        assertTrue(files.size() >= 100, "expected the full fixture set, found " + files.size());
        return files.stream().map(p -> DynamicTest.dynamicTest(Fixtures.root().relativize(p).toString(),
                () -> check(p, Fixtures.json(p.resolveSibling(p.getFileName() + ".json")))));
    }

    private static void check(Path p, JsonObject m) throws IOException {
        WeightFile f = WeightFiles.open(p);
        assertEquals(m.getString("format"), f.kind().format());
        assertEquals(m.getJsonNumber("size").longValueExact(), f.size());
        if (f.kind() == FormatKind.SAFETENSORS) {
            checkSafetensors(f, m);
        } else {
            checkTorch(f, m);
        }
    }

    private static void checkTorch(WeightFile f, JsonObject m) throws IOException {
        JsonObject pkl = m.getJsonObject("data_pkl");
        String prefix = m.getJsonObject("zip").getString("prefix");
        Map<String, Long> dataOffsets = new HashMap<>();
        for (JsonValue r : m.getJsonObject("zip").getJsonArray("records")) {
            JsonObject rec = r.asJsonObject();
            dataOffsets.put(rec.getString("name"), rec.getJsonNumber("data_offset").longValueExact());
        }
        JsonArray storages = pkl.getJsonArray("storages");
        assertEquals(storages.size(), f.storages().size(), "storage count");
        for (int i = 0; i < storages.size(); i++) {
            JsonObject e = storages.getJsonObject(i);
            StorageInfo s = f.storages().get(i);
            String where = "storage " + e.getString("key");
            assertEquals(e.getString("key"), s.key(), where);
            assertEquals(e.getString("dtype"), s.dtype().torchName(), where);
            assertEquals(e.getString("storage_type"), s.dtype().storageClass(), where);
            assertEquals(e.getJsonNumber("numel").longValueExact(), s.numel(), where);
            assertEquals(e.getJsonNumber("nbytes").longValueExact(), s.length(), where);
            assertEquals(e.getString("location"), s.location(), where);
            assertEquals(dataOffsets.get(prefix + "/" + e.getString("record")), s.offset(), where + " offset");
            assertEquals(ByteOrder.LITTLE_ENDIAN, s.byteOrder());
            assertEquals(2, s.crc32Offsets().size(), where + ": descriptor and central directory CRC");
        }
        JsonArray tensors = pkl.getJsonArray("tensors");
        assertEquals(tensors.size(), f.tensors().size(), "tensor count");
        for (int i = 0; i < tensors.size(); i++) {
            JsonObject e = tensors.getJsonObject(i);
            TensorInfo t = f.tensors().get(i);
            String where = "tensor " + e.getString("name");
            assertEquals(e.getString("name"), t.name(), where);
            assertEquals(Fixtures.strings(e.getJsonArray("aliases")), t.aliases(), where);
            assertEquals(e.getString("storage_key"), t.storageKey(), where);
            assertEquals(e.getJsonNumber("storage_offset").longValueExact(), t.storageOffset(), where);
            checkTensor(f, t, e);
        }
        if (m.containsKey("text_records")) {
            for (Map.Entry<String, JsonValue> e : m.getJsonObject("text_records").entrySet()) {
                assertEquals(((jakarta.json.JsonString) e.getValue()).getString(), f.metadata().get(e.getKey()));
            }
        }
    }

    private static void checkSafetensors(WeightFile f, JsonObject m) throws IOException {
        long dataStart = m.getJsonNumber("data_start").longValueExact();
        JsonArray tensors = m.getJsonArray("tensors");
        assertEquals(tensors.size(), f.tensors().size(), "tensor count");
        for (int i = 0; i < tensors.size(); i++) {
            JsonObject e = tensors.getJsonObject(i);
            TensorInfo t = f.tensors().get(i);
            assertEquals(e.getString("name"), t.name());
            assertEquals(List.of(), t.aliases());
            assertEquals(e.getString("st_dtype"), t.dtype().safetensorsCode());
            StorageInfo s = f.storage(t.storageKey()).orElseThrow();
            List<Long> range = Fixtures.longs(e.getJsonArray("data_offsets"));
            assertEquals(dataStart + range.get(0), s.offset(), t.name());
            assertEquals(range.get(1) - range.get(0), s.length(), t.name());
            checkTensor(f, t, e);
        }
        Map<String, String> md = new HashMap<>();
        for (Map.Entry<String, JsonValue> e : m.getJsonObject("metadata").entrySet()) {
            md.put(e.getKey(), ((jakarta.json.JsonString) e.getValue()).getString());
        }
        assertEquals(md, f.metadata());
    }

    /** dtype, shape, stride, then the statistics over the elements read through the view. */
    private static void checkTensor(WeightFile f, TensorInfo t, JsonObject e) throws IOException {
        String where = "tensor " + t.name();
        assertEquals(e.getString("dtype"), t.dtype().torchName(), where);
        assertEquals(Fixtures.longs(e.getJsonArray("shape")), t.shape(), where);
        assertEquals(Fixtures.longs(e.getJsonArray("stride")), t.stride(), where);
        double[] v = TensorValues.read(f, t);
        assertEquals(e.getJsonNumber("numel").longValueExact(), v.length, where);
        double sum = 0;
        double sumSq = 0;
        for (double x : v) {
            sum += x;
            sumSq += x * x;
        }
        close(e.getJsonNumber("sum").doubleValue(), sum, where + " sum");
        close(e.getJsonNumber("sum_sq").doubleValue(), sumSq, where + " sum_sq");
        if (e.containsKey("sum_int")) {
            BigInteger s = BigInteger.ZERO;
            BigInteger s2 = BigInteger.ZERO;
            for (long x : TensorValues.readBits(f, t)) {
                s = s.add(BigInteger.valueOf(x));
                s2 = s2.add(BigInteger.valueOf(x).pow(2));
            }
            assertEquals(new BigInteger(e.getString("sum_int")), s, where + " sum_int");
            assertEquals(new BigInteger(e.getString("sum_sq_int")), s2, where + " sum_sq_int");
        }
        if (e.containsKey("first")) {
            List<Double> first = new ArrayList<>();
            for (JsonValue x : e.getJsonArray("first")) {
                first.add(((jakarta.json.JsonNumber) x).doubleValue());
            }
            for (int i = 0; i < first.size(); i++) {
                assertEquals(first.get(i), v[i], where + " element " + i);
            }
        }
    }

    private static void close(double expected, double actual, String what) {
        double tol = 1e-9 * Math.max(Math.abs(expected), 1e-300);
        assertTrue(Math.abs(expected - actual) <= tol || expected == actual,
                what + ": expected " + expected + " got " + actual);
    }

    @Test
    void protocolAndLayoutVariantsHaveTheSameFingerprint() throws IOException {
        Path models = Fixtures.root().resolve("models");
        WeightFile base = WeightFiles.open(models.resolve("mlp.state_dict.pt"));
        for (String v : List.of("mlp.state_dict.proto4.pt", "mlp.state_dict.v2layout.pt")) {
            WeightFile other = WeightFiles.open(models.resolve(v));
            assertEquals(base.fingerprint(), other.fingerprint(), v);
            base.requireCompatible(other);
        }
    }
}
