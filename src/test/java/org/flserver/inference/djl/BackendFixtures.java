package org.flserver.inference.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.tensor.DType;

/**
 * The TorchScript fixtures of src/test/resources/inference-backend (written by
 * src/test/python/inference_backend/gen_backend_fixtures.py, with the outputs PyTorch computed for
 * them in expected.json) and a few of the project's PyTorch fixtures (src/test/resources/pytorch), as
 * files on disk: read in place by unit tests, unpacked from the deployment's class path in the
 * container.
 */
public final class BackendFixtures {

    /** PyTorch fixtures (src/test/resources/pytorch) the backend tests use, relative to that folder. */
    public static final List<String> SHARED = List.of("models/tied.torchscript.pt", "models/mlp.state_dict.pt",
            "models/mlp.safetensors", "models/mlp.module.pt", "models/mlp.torchscript.pt",
            "hostile/os_system.pt", "hostile/os_system_in_state_dict.pt", "hostile/storage_key_traversal.pt",
            "hostile/storage_numel_lie.pt", "hostile/truncated.pt", "hostile/view_out_of_bounds.pt",
            "hostile/zip_slip.pt");

    /** The files of src/test/resources/inference-backend. */
    public static final List<String> OWN = List.of("mc_mlp.pt", "plain_mlp.pt", "plain_mlp_traced.pt", "mc_cnn.pt",
            "two_outputs.pt", "double_it.pt", "positive.pt", "one_tuple.pt", "transpose.pt", "cast_int16.pt",
            "cast_bfloat16.pt", "broken_code.pt", "reads_file.pt", "writes_file.pt", "expected.json");

    private final Path own;
    private final Path shared;
    private final JsonObject expected;

    private BackendFixtures(Path own, Path shared) {
        this.own = own;
        this.shared = shared;
        try (InputStream in = Files.newInputStream(own.resolve("expected.json")); JsonReader r = Json.createReader(in)) {
            this.expected = r.readObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unit tests: the files where the repository keeps them. */
    public static BackendFixtures fromSources() {
        Path shared = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"));
        return new BackendFixtures(Path.of("src", "test", "resources", "inference-backend"), shared);
    }

    /** In the container: the files the deployment carries under {@code inference-backend/}, unpacked. */
    public static BackendFixtures fromClassPath() throws IOException {
        // readable by the sandbox's unprivileged user, like the model store (temp folders are mode 700)
        Path dir = Files.createTempDirectory("inference-backend",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        ClassLoader loader = BackendFixtures.class.getClassLoader();
        for (String name : OWN) {
            copy(loader, "inference-backend/" + name, dir.resolve(name));
        }
        for (String name : SHARED) {
            copy(loader, "inference-backend/shared/" + name, dir.resolve("shared").resolve(name));
        }
        return new BackendFixtures(dir, dir.resolve("shared"));
    }

    private static void copy(ClassLoader loader, String resource, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("missing resource " + resource);
            }
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Where the shared fixtures are (for adding them to a deployment). */
    public static Path sharedRoot() {
        return fromSources().shared;
    }

    public JsonObject expected() {
        return expected;
    }

    /** A file of src/test/resources/inference-backend as the model store would name it. */
    public ModuleFile module(String name) {
        return file(own.resolve(name));
    }

    /** A shared fixture, e.g. {@code models/mlp.state_dict.pt}. */
    public ModuleFile shared(String relative) {
        return file(shared.resolve(relative));
    }

    /** Any file, named by its SHA-256 like the model store does. */
    public static ModuleFile file(Path path) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(path));
            return new ModuleFile(HexFormat.of().formatHex(digest), path.toAbsolutePath());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A tensor of expected.json ({@code dtype}, {@code shape}, {@code values}). */
    public static Tensor tensor(JsonObject json) {
        DType dtype = DType.fromTorchName(json.getString("dtype")).orElseThrow();
        long[] shape = json.getJsonArray("shape").getValuesAs(JsonNumber.class).stream()
                .mapToLong(JsonNumber::longValue).toArray();
        JsonArray values = json.getJsonArray("values");
        ByteBuffer b = ByteBuffer.allocate(values.size() * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNumber v : values.getValuesAs(JsonNumber.class)) {
            switch (dtype) {
                case FLOAT64 -> b.putDouble(v.doubleValue());
                case FLOAT32 -> b.putFloat((float) v.doubleValue());
                case INT64 -> b.putLong(v.longValue());
                case INT32 -> b.putInt(v.intValue());
                case INT16 -> b.putShort((short) v.intValue());
                case INT8, UINT8, BOOL -> b.put((byte) v.intValue());
                default -> throw new IllegalArgumentException("no fixture values of " + dtype);
            }
        }
        b.flip();
        return new Tensor(dtype, shape, b);
    }

    public static double[] doubles(JsonArray values) {
        return values.getValuesAs(JsonNumber.class).stream().mapToDouble(JsonNumber::doubleValue).toArray();
    }

    public static float[] floats(JsonArray values) {
        double[] d = doubles(values);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** Every element of {@code actual} within {@code tolerance} of {@code expected}. */
    public static void assertClose(double[] expected, Tensor actual, double tolerance, String what) {
        double[] got = actual.toDoubles();
        assertEquals(expected.length, got.length, what + ": number of elements");
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
            worst = Math.max(worst, Math.abs(got[i] - expected[i]));
        }
        if (Boolean.getBoolean("fl.test.print-diffs")) {
            System.out.printf("%s: max abs difference %.3g%n", what, worst);
        }
        if (!(worst <= tolerance)) {
            assertArrayEquals(expected, got, tolerance, what + ": max abs difference " + worst);
        }
    }

    /** {@link #assertClose(double[], Tensor, double, String)} for one array of a JSON list of passes. */
    public static void assertPasses(JsonArray expectedPasses, List<Tensor> actual, double tolerance, String what) {
        assertEquals(expectedPasses.size(), actual.size(), what + ": number of passes");
        for (int i = 0; i < actual.size(); i++) {
            assertClose(doubles(expectedPasses.getJsonArray(i)), actual.get(i), tolerance, what + " pass " + i);
        }
    }
}
