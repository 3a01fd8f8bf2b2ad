package org.flserver.aggregation;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.flserver.tensor.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code TensorTool aggregate}: the rules on the robust fixtures with {@code --report} (Krum's
 * scores and selection, trimmed counts as computed by numpy), and fedavg's exit codes: 2 for a
 * refused file or a rule that does not fit, 1 for usage errors.
 */
class TensorToolAggregateTest {

    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {
        JsonObject json() {
            return Json.createReader(new StringReader(out)).readObject();
        }
    }

    private static Run run(List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = TensorTool.run(args.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static final Path MLP = RobustAggregationFixturesTest.root().resolve("mlp");
    private static final JsonObject SPEC = Fixtures.json(MLP.resolve("expected.json"));

    private static List<String> clients(int n) {
        List<String> a = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            a.add(MLP.resolve(SPEC.getJsonArray("files").getString(i)) + ":" + SPEC.getJsonArray("sample_sizes").getInt(i));
        }
        return a;
    }

    private static JsonObject expectedCase(int n, String rule, String key, Number value) {
        for (JsonValue c : SPEC.getJsonArray("runs").getJsonObject(n - 1).getJsonArray("cases")) {
            JsonObject o = c.asJsonObject();
            if (o.getString("rule").equals(rule) && (key == null || o.getJsonNumber(key).doubleValue() == value.doubleValue())) {
                return o;
            }
        }
        throw new AssertionError("no case " + rule);
    }

    private List<String> args(String... head) {
        return new ArrayList<>(List.of(head));
    }

    @Test
    void krumReportsScoresAndTheSelectedFile() throws Exception {
        Path out = tmp.resolve("krum.pt");
        List<String> a = args("aggregate", "--rule", "krum", "--byzantine", "1", "--report", "--out", out.toString());
        a.addAll(clients(9));
        Run r = run(a);
        assertEquals(0, r.code(), r.err());
        JsonObject report = r.json();
        JsonObject expected = expectedCase(9, "krum", "byzantine", 1);
        assertEquals("krum", report.getString("rule"));
        assertEquals(9, report.getInt("clients"));
        assertEquals(6, report.getInt("nearest"));
        JsonArray files = report.getJsonArray("files");
        for (int i = 0; i < 9; i++) {
            double want = expected.getJsonArray("scores").getJsonNumber(i).doubleValue();
            assertEquals(want, files.getJsonObject(i).getJsonNumber("krum_score").doubleValue(), want * 1e-9);
        }
        int chosen = expected.getJsonArray("selected").getInt(0);
        assertEquals(List.of(MLP.resolve(SPEC.getJsonArray("files").getString(chosen)).toString()),
                report.getJsonArray("selected").getValuesAs(jakarta.json.JsonString::getString));
        assertFalse(files.getJsonObject(4).getBoolean("selected"), "the attacker (client 4) is not chosen");
        // Krum's result is the chosen client's tensors, to the bit.
        assertArrayEquals(StorageValues.of(MLP.resolve(SPEC.getJsonArray("files").getString(chosen)), "net.2.weight"),
                StorageValues.of(out, "net.2.weight"));
    }

    @Test
    void trimmedMeanReportsTrimmedCounts() {
        Path out = tmp.resolve("tm.pt");
        List<String> a = args("aggregate", "--rule", "trimmed_mean", "--trim-fraction", "0.25", "--report", "--out",
                out.toString(), "--template", MLP.resolve("client00.state_dict.pt").toString());
        a.addAll(clients(12));
        Run r = run(a);
        assertEquals(0, r.code(), r.err());
        JsonObject report = r.json();
        JsonObject expected = expectedCase(12, "trimmed_mean", "trim_fraction", 0.25);
        assertEquals(3, report.getInt("trimmed_per_side"));
        assertEquals(6, report.getInt("kept_per_coordinate"));
        for (int i = 0; i < 12; i++) {
            JsonObject f = report.getJsonArray("files").getJsonObject(i);
            assertEquals(expected.getJsonArray("trimmed_low").getInt(i), f.getInt("trimmed_low"));
            assertEquals(expected.getJsonArray("trimmed_high").getInt(i), f.getInt("trimmed_high"));
        }
        assertTrue(Files.exists(out));
    }

    @Test
    void exitCodesAreThoseOfFedavg() {
        Path out = tmp.resolve("x.pt");
        List<String> tooFew = args("aggregate", "--rule", "krum", "--byzantine", "2", "--out", out.toString());
        tooFew.addAll(clients(6));
        Run r = run(tooFew);
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("refused: krum with byzantine = 2 needs more than 6 updates"), r.err());

        List<String> nan = args("aggregate", "--rule", "median", "--out", out.toString());
        nan.addAll(clients(3));
        nan.add(RobustAggregationFixturesTest.root().resolve("nonfinite").resolve("nan.state_dict.pt") + ":5");
        r = run(nan);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nan.state_dict.pt: tensor net.2.weight holds NaN"), r.err());

        List<String> badBeta = args("aggregate", "--rule", "trimmed_mean", "--trim-fraction", "0.5", "--out", out.toString());
        badBeta.addAll(clients(3));
        assertEquals(2, run(badBeta).code());

        List<String> unknown = args("aggregate", "--rule", "mode", "--out", out.toString());
        unknown.addAll(clients(3));
        r = run(unknown);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown aggregation rule"), r.err());

        List<String> noRule = args("aggregate", "--out", out.toString());
        noRule.addAll(clients(3));
        assertEquals(1, run(noRule).code());
        List<String> badNumber = args("aggregate", "--rule", "krum", "--byzantine", "x", "--out", out.toString());
        badNumber.addAll(clients(3));
        assertEquals(1, run(badNumber).code());
        assertEquals(1, run(args("aggregate", "--rule", "median", "--out", out.toString(), "nocolon")).code());
        assertFalse(Files.exists(out));
    }
}
