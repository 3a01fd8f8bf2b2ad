package org.flserver.tensor;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.flserver.aggregation.StreamingFedAvg;
import org.flserver.aggregation.WeightedFile;
import org.flserver.model.WeightChecks;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code torch.save(model)} of every torchvision classification model (also the quantizable ones, as
 * float models) and detection model that torchvision 0.14 builds offline, except the four enormous
 * ones (over 1 GB each; the generator's {@code list} names them), and of a model whose classes live
 * in the user's package {@code mysite.nets}. The files are written by PyTorch at test time
 * ({@link TorchvisionModels}), the next while this test reads one, and deleted after use.
 *
 * <p>What is covered: every model is read as a pickled module whose tensor table holds every
 * {@code state_dict()} entry with PyTorch's name, shape and dtype, has a stable fingerprint, and
 * passes the upload checks as a global model and as a local update. The small and medium models
 * (up to 12.5 M parameters, the generator's tier "average", among them resnet18, the mobilenets,
 * efficientnet_b0 to b3, ssdlite and the user model) are also averaged: two perturbed clients with
 * sample sizes 30 and 70 give, storage by storage, exactly the bytes of PyTorch's mean (float64
 * accumulation rounded once to float32). The big ones are only read, to keep the test at about a
 * minute (and the generator gives them parameters from one seeded normal distribution instead of
 * torchvision's initialization, which took most of the time before).
 */
class TorchvisionModelsTest {

    @Test
    void everyTorchvisionModelIsReadFingerprintedCheckedAndTheSmallOnesAveraged() throws Exception {
        Path dir = TorchvisionModels.servingDir();
        try {
            run(dir);
        } finally {
            try (Stream<Path> left = Files.list(dir)) {
                for (Path p : left.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    private static void run(Path dir) throws Exception {
        JsonObject listing = TorchvisionModels.list(dir);
        List<String> expectedNames = listing.getJsonArray("models").stream()
                .map(v -> v.asJsonObject().getString("name")).toList();
        List<String> served = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        int averaged = 0;
        try (TorchvisionModels.Served models = new TorchvisionModels.Served(dir)) {
            for (JsonObject m = models.next(); m != null; m = models.next()) {
                String name = m.getString("name");
                served.add(name);
                try {
                    if (check(m, dir)) {
                        averaged++;
                    }
                } catch (Exception | AssertionError e) {
                    failures.add(name + ": " + e);
                }
                models.done();
            }
        }
        System.out.println("TorchvisionModelsTest: " + served.size() + " models read, " + averaged
                + " averaged byte-exactly; skipped: " + listing.getJsonArray("skipped"));
        assertEquals(List.of(), failures);
        assertEquals(expectedNames, served);
        assertTrue(served.contains("mysite.nets.SiteNet") && served.contains("ssdlite320_mobilenet_v3_large")
                && served.contains("vgg19_bn") && averaged >= 20, "averaged " + averaged);
    }

    /** Checks one model; true if it was averaged too. */
    private static boolean check(JsonObject m, Path dir) throws Exception {
        JsonObject files = m.getJsonObject("files");
        Path model = Path.of(files.getString("model"));
        WeightFile global = WeightChecks.model(model);
        assertEquals(FormatKind.MODULE, global.kind());
        assertEquals(global.fingerprint(), WeightFiles.open(model).fingerprint(), "fingerprint is stable");
        Map<String, TensorInfo> byName = new HashMap<>();
        for (TensorInfo t : global.tensors()) {
            byName.put(t.name(), t);
            t.aliases().forEach(a -> byName.put(a, t));
        }
        for (JsonValue v : m.getJsonArray("state_dict")) {
            JsonArray e = v.asJsonArray();
            TensorInfo t = byName.get(e.getString(0));
            assertTrue(t != null, "state_dict entry " + e.getString(0) + " is in the tensor table");
            assertEquals(e.getJsonArray(1).stream().map(x -> Long.parseLong(x.toString())).toList(), t.shape(),
                    e.getString(0));
            assertEquals(e.getString(2), t.dtype().torchName(), e.getString(0));
        }
        if (!"average".equals(m.getString("tier"))) {
            WeightChecks.update(model, global);
            return false;
        }
        JsonArray ns = m.getJsonArray("ns");
        List<WeightedFile> clients = new ArrayList<>();
        for (int i = 0; i < ns.size(); i++) {
            Path client = Path.of(files.getString("client" + i));
            WeightChecks.update(client, global);
            clients.add(new WeightedFile(client, ns.getInt(i)));
        }
        Path out = dir.resolve(m.getString("name") + ".fedavg.pt");
        try {
            new StreamingFedAvg().aggregate(clients, model, out);
            WeightFile mean = WeightFiles.open(out);
            WeightFile expected = WeightFiles.open(Path.of(files.getString("expected")));
            global.requireCompatible(mean);
            assertEquals(expected.tensors().size(), mean.tensors().size());
            for (int i = 0; i < expected.tensors().size(); i++) {
                TensorInfo e = expected.tensors().get(i);
                TensorInfo a = mean.tensors().get(i);
                assertEquals(e.name(), a.name());
                StorageInfo es = expected.storage(e.storageKey()).orElseThrow();
                StorageInfo as = mean.storage(a.storageKey()).orElseThrow();
                assertArrayEquals(TorchvisionModels.bytes(expected.path(), es.offset(), es.length()),
                        TorchvisionModels.bytes(out, as.offset(), as.length()), "storage of " + e.name());
            }
        } finally {
            Files.deleteIfExists(out);
        }
        return true;
    }
}
