package org.flserver.aggregation;

import jakarta.json.JsonObject;
import org.flserver.tensor.Fixtures;
import org.flserver.tensor.IncompatibleWeightsException;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FedAvg exactly as PyTorch computes it: for every FedAvg set and every kind, averaging client0..2 with the given sample sizes
 * gives a file byte-identical to {@code expected.<kind>}, with the default settings and with tiny
 * blocks on one and on two threads (so storages are split into many blocks whose CRCs must combine).
 * Also the refusals: mixed kinds, other architectures, zero total weight, a hostile client.
 */
class FedAvgFixturesTest {

    private static final List<String> KINDS = List.of("state_dict", "module", "torchscript", "safetensors");

    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> everySetAndKindIsByteIdenticalToExpected() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        try (Stream<Path> sets = Files.list(Fixtures.root().resolve("fedavg"))) {
            for (Path set : sets.sorted().toList()) {
                JsonObject spec = Fixtures.json(set.resolve("fedavg.json"));
                for (String kind : KINDS) {
                    tests.add(DynamicTest.dynamicTest(set.getFileName() + " " + kind, () -> {
                        List<WeightedFile> clients = new ArrayList<>();
                        for (var c : spec.getJsonArray("clients")) {
                            JsonObject o = c.asJsonObject();
                            clients.add(new WeightedFile(set.resolve(o.getJsonObject("files").getString(kind)),
                                    o.getInt("n")));
                        }
                        byte[] expected = Files.readAllBytes(set.resolve(spec.getJsonObject("expected").getString(kind)));
                        for (StreamingFedAvg avg : List.of(new StreamingFedAvg(),
                                new StreamingFedAvg(1, 7, PicklePolicy.standard()),
                                new StreamingFedAvg(2, 5, PicklePolicy.standard()),
                                new StreamingFedAvg(2, 5, PicklePolicy.standard(), true, false))) {
                            Path out = tmp.resolve(set.getFileName() + "." + kind + ".out");
                            StreamingFedAvg.Result r = avg.aggregate(clients, clients.get(0).path(), out);
                            assertEquals(100.0, r.totalWeight());
                            assertArrayEquals(expected, Files.readAllBytes(out), set.getFileName() + " " + kind);
                        }
                    }));
                }
            }
        }
        assertEquals(20, tests.size());
        return tests.stream();
    }

    @Test
    void averagingCopiesOfOneFileReturnsItsBytes() throws IOException {
        for (String set : List.of("dtypes", "tied", "cnn_bn")) {
            for (String file : List.of("client1.state_dict.pt", "client1.torchscript.pt", "client1.safetensors")) {
                Path in = Fixtures.root().resolve("fedavg").resolve(set).resolve(file);
                Path out = tmp.resolve("copy-" + set + "-" + file);
                new StreamingFedAvg().aggregate(List.of(new WeightedFile(in, 1), new WeightedFile(in, 2),
                        new WeightedFile(in, 3)), in, out);
                assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(out), set + " " + file);
            }
        }
    }

    @Test
    void protocolAndLayoutVariantsAverageTogether() throws IOException {
        Path models = Fixtures.root().resolve("models");
        Path template = models.resolve("mlp.state_dict.pt");
        Path out = tmp.resolve("variants.pt");
        new StreamingFedAvg().aggregate(List.of(new WeightedFile(models.resolve("mlp.state_dict.proto4.pt"), 1),
                new WeightedFile(models.resolve("mlp.state_dict.v2layout.pt"), 1)), template, out);
        assertArrayEquals(Files.readAllBytes(template), Files.readAllBytes(out), "same tensors → template bytes");
    }

    @Test
    void mixedKindsAreRefused() {
        Path set = Fixtures.root().resolve("fedavg/mlp");
        IncompatibleWeightsException e = assertThrows(IncompatibleWeightsException.class, () ->
                new StreamingFedAvg().aggregate(List.of(new WeightedFile(set.resolve("client0.state_dict.pt"), 1),
                        new WeightedFile(set.resolve("client1.module.pt"), 1)), set.resolve("client0.state_dict.pt"),
                        tmp.resolve("mixed.pt")));
        assertTrue(e.getMessage().contains("different kinds"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("mixed.pt")));
    }

    @Test
    void otherArchitecturesAreRefusedNamingTheFirstDifferingTensor() {
        Path fed = Fixtures.root().resolve("fedavg");
        IncompatibleWeightsException e = assertThrows(IncompatibleWeightsException.class, () ->
                new StreamingFedAvg().aggregate(List.of(new WeightedFile(fed.resolve("mlp/client0.state_dict.pt"), 1),
                        new WeightedFile(fed.resolve("gelu_mlp/client0.state_dict.pt"), 1)),
                        fed.resolve("mlp/client0.state_dict.pt"), tmp.resolve("arch.pt")));
        assertTrue(e.getMessage().contains("tensor 'net.0.weight'"), e.getMessage());
    }

    @Test
    void zeroTotalWeightIsRefused() {
        Path c = Fixtures.root().resolve("fedavg/mlp/client0.state_dict.pt");
        assertThrows(IllegalArgumentException.class, () -> new StreamingFedAvg().aggregate(
                List.of(new WeightedFile(c, 0), new WeightedFile(c, 0)), c, tmp.resolve("zero.pt")));
        assertThrows(IllegalArgumentException.class, () -> new WeightedFile(c, -1));
        assertThrows(IllegalArgumentException.class, () -> new WeightedFile(c, Double.NaN));
    }

    @Test
    void aHostileClientStopsTheRoundAndLeavesNoFile() throws IOException {
        Path c = Fixtures.root().resolve("models/mlp.state_dict.pt");
        Path hostile = Fixtures.root().resolve("hostile/os_system_in_state_dict.pt");
        Path dir = Files.createDirectory(tmp.resolve("round"));
        WeightFileException e = assertThrows(WeightFileException.class, () -> new StreamingFedAvg().aggregate(
                List.of(new WeightedFile(c, 1), new WeightedFile(hostile, 1)), c, dir.resolve("out.pt")));
        assertTrue(e.getMessage().contains("posix system"), e.getMessage());
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(0, left.count(), "no output and no temporary file");
        }
    }
}
