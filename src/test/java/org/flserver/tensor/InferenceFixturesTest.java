package org.flserver.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.Json;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * The PyTorch-written inference fixtures ({@code src/test/resources/inference}, made by
 * {@code src/test/python/inference/make_fixtures.py}) open in the project's own reader and agree with
 * the facts their JSON files state: TorchScript models with the listed state_dict names, SWAG moment
 * vectors of length P in both formats, plain tensors for the input files.
 */
class InferenceFixturesTest {

    @Test
    void modelsAreTorchScriptWithTheStateDictNamesOfTheirJson() throws Exception {
        for (String[] model : new String[][]{{"mlp.json", "mlp.pt", "mlp_softmax.pt"}, {"mlp_noflag.json",
                "mlp_noflag.pt"}, {"cnn.json", "cnn.pt"}, {"mlp.json", "ens0.pt", "ens1.pt", "ens2.pt",
                "ens_softmax0.pt", "ens_softmax1.pt", "ens_softmax2.pt"}}) {
            List<String> names = json(model[0]).getJsonArray("state_dict_names").getValuesAs(JsonString.class)
                    .stream().map(JsonString::getString).toList();
            for (int i = 1; i < model.length; i++) {
                WeightFile f = WeightFiles.open(fixture(model[i]));
                assertEquals(FormatKind.TORCHSCRIPT, f.kind(), model[i]);
                assertEquals(names, f.tensors().stream().map(TensorInfo::name).toList(), model[i]);
            }
        }
        assertEquals(FormatKind.TORCHSCRIPT, WeightFiles.open(fixture("preprocess.pt")).kind());
    }

    @Test
    void swagMomentsAreVectorsOfLengthP() throws Exception {
        JsonObject swag = json("swag.json");
        int p = swag.getInt("P");
        for (String which : new String[]{"first_moment_files", "second_moment_files"}) {
            JsonObject files = swag.getJsonObject(which);
            WeightFile st = WeightFiles.open(fixture(files.getString("safetensors")));
            assertEquals(FormatKind.SAFETENSORS, st.kind());
            assertEquals(files.getString("tensor_name"), st.tensors().get(0).name());
            WeightFile pt = WeightFiles.open(fixture(files.getString("torch_save")));
            assertEquals(FormatKind.TENSOR, pt.kind());
            for (WeightFile f : List.of(st, pt)) {
                assertEquals(1, f.tensors().size());
                assertEquals(DType.FLOAT32, f.tensors().get(0).dtype());
                assertEquals(List.of((long) p), f.tensors().get(0).shape(), f.path().toString());
            }
        }
    }

    @Test
    void inputFileIsTheFloatBatchOfMlpJson() throws Exception {
        WeightFile f = WeightFiles.open(fixture("input.pt"));
        assertEquals(FormatKind.TENSOR, f.kind());
        assertEquals(DType.FLOAT32, f.tensors().get(0).dtype());
        assertEquals(List.of(5L, 8L), f.tensors().get(0).shape());
        assertEquals(List.of(5, 8), json("mlp.json").getJsonObject("input").getJsonArray("shape")
                .getValuesAs(JsonNumber.class).stream().map(JsonNumber::intValue).toList());
    }

    static Path fixture(String name) throws URISyntaxException {
        return Path.of(Objects.requireNonNull(InferenceFixturesTest.class.getResource("/inference/" + name),
                "missing fixture " + name).toURI());
    }

    static JsonObject json(String name) throws IOException, URISyntaxException {
        try (Reader r = Files.newBufferedReader(fixture(name)); JsonReader j = Json.createReader(r)) {
            return j.readObject();
        }
    }
}
