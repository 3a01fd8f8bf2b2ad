package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Command-line access to the weight-file reader and the streaming FedAvg, for operators and for
 * checking files without Python:
 *
 * <pre>
 * java -cp CLASSES org.flserver.aggregation.TensorTool inspect FILE
 * java -cp CLASSES org.flserver.aggregation.TensorTool fedavg --out OUT [--template FILE] FILE:WEIGHT ...
 * java -cp CLASSES org.flserver.aggregation.TensorTool aggregate --rule median|trimmed_mean|krum|multi_krum|mean
 *     [--trim-fraction B] [--byzantine F] [--select M] [--report] --out OUT [--template FILE] FILE:WEIGHT ...
 * </pre>
 *
 * <p>{@code aggregate} runs {@link RobustAggregation}; with {@code --report} it prints the
 * {@link AggregationReport} as JSON on stdout (Krum scores and selected files, trimmed counts).
 *
 * <p>Exit codes: 0 success; 2 a file was refused or the files do not fit together (one line on
 * stderr, no stack trace); 1 usage or I/O errors.
 */
public final class TensorTool {

    private TensorTool() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the tool and returns its exit code; the streams receive its output. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 2 && args[0].equals("inspect")) {
                out.println(inspectJson(WeightFiles.open(Path.of(args[1]))));
                out.flush();
                return 0;
            }
            if (args.length >= 1 && args[0].equals("fedavg")) {
                return fedavg(args, out, err);
            }
            if (args.length >= 1 && args[0].equals("aggregate")) {
                return aggregate(args, out, err);
            }
            err.println("usage: TensorTool inspect FILE | fedavg --out OUT [--template FILE] FILE:WEIGHT ... | "
                    + AGGREGATE_USAGE);
            return 1;
        } catch (WeightFileException e) {
            err.println("refused: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("refused: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("error: " + e);
            return 1;
        }
    }

    private static final String AGGREGATE_USAGE = "aggregate --rule median|trimmed_mean|krum|multi_krum|mean "
            + "[--trim-fraction B] [--byzantine F] [--select M] [--report] --out OUT [--template FILE] FILE:WEIGHT ...";

    private static int fedavg(String[] args, PrintStream out, PrintStream err) throws IOException {
        Path outPath = null;
        Path template = null;
        List<WeightedFile> clients = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--out") && i + 1 < args.length) {
                outPath = Path.of(args[++i]);
            } else if (a.equals("--template") && i + 1 < args.length) {
                template = Path.of(args[++i]);
            } else if (!addClient(a, clients, err)) {
                return 1;
            }
        }
        if (outPath == null || clients.isEmpty()) {
            err.println("usage: TensorTool fedavg --out OUT [--template FILE] FILE:WEIGHT ...");
            return 1;
        }
        new StreamingFedAvg().aggregate(clients, template != null ? template : clients.get(0).path(), outPath);
        return 0;
    }

    private static int aggregate(String[] args, PrintStream out, PrintStream err) throws IOException {
        Path outPath = null;
        Path template = null;
        String rule = null;
        double beta = 0;
        int byzantine = 0;
        int select = 0;
        boolean report = false;
        List<WeightedFile> clients = new ArrayList<>();
        try {
            for (int i = 1; i < args.length; i++) {
                String a = args[i];
                boolean value = i + 1 < args.length;
                if (a.equals("--out") && value) {
                    outPath = Path.of(args[++i]);
                } else if (a.equals("--template") && value) {
                    template = Path.of(args[++i]);
                } else if (a.equals("--rule") && value) {
                    rule = args[++i];
                } else if (a.equals("--trim-fraction") && value) {
                    beta = Double.parseDouble(args[++i]);
                } else if (a.equals("--byzantine") && value) {
                    byzantine = Integer.parseInt(args[++i]);
                } else if (a.equals("--select") && value) {
                    select = Integer.parseInt(args[++i]);
                } else if (a.equals("--report")) {
                    report = true;
                } else if (a.startsWith("--") || !addClient(a, clients, err)) {
                    err.println("usage: TensorTool " + AGGREGATE_USAGE);
                    return 1;
                }
            }
        } catch (NumberFormatException e) {
            err.println("usage: TensorTool " + AGGREGATE_USAGE + " (" + e.getMessage() + ")");
            return 1;
        }
        if (outPath == null || rule == null || clients.isEmpty()) {
            err.println("usage: TensorTool " + AGGREGATE_USAGE);
            return 1;
        }
        AggregationRule.Name name = AggregationRule.Name.of(rule);
        AggregationRule r = new AggregationRule(name, beta, byzantine,
                name == AggregationRule.Name.KRUM ? 1 : select);
        AggregationReport result = new RobustAggregation().aggregate(r, clients,
                template != null ? template : clients.get(0).path(), outPath);
        if (report) {
            out.println(result.toJson());
            out.flush();
        }
        return 0;
    }

    /** Adds FILE:WEIGHT to clients; false (after a message) when it is not of that form. */
    private static boolean addClient(String a, List<WeightedFile> clients, PrintStream err) {
        int colon = a.lastIndexOf(':');
        if (colon <= 0) {
            err.println("expected FILE:WEIGHT, got " + a);
            return false;
        }
        double w;
        try {
            w = Double.parseDouble(a.substring(colon + 1));
        } catch (NumberFormatException e) {
            err.println("expected FILE:WEIGHT, got " + a);
            return false;
        }
        clients.add(new WeightedFile(Path.of(a.substring(0, colon)), w));
        return true;
    }

    /** The inspect output: format, tensor table and storage table as one JSON object. */
    public static String inspectJson(WeightFile f) {
        StringBuilder b = new StringBuilder();
        b.append("{\"format\": ").append(q(f.kind().format())).append(", \"kind\": ").append(q(f.kind().label()));
        b.append(", \"tensors\": [");
        for (int i = 0; i < f.tensors().size(); i++) {
            TensorInfo t = f.tensors().get(i);
            b.append(i > 0 ? ", " : "").append("{\"name\": ").append(q(t.name())).append(", \"aliases\": [");
            for (int j = 0; j < t.aliases().size(); j++) {
                b.append(j > 0 ? ", " : "").append(q(t.aliases().get(j)));
            }
            b.append("], \"dtype\": ").append(q(t.dtype().torchName()))
                    .append(", \"shape\": ").append(t.shape())
                    .append(", \"stride\": ").append(t.stride())
                    .append(", \"storage_offset\": ").append(t.storageOffset())
                    .append(", \"storage_key\": ").append(q(t.storageKey())).append('}');
        }
        b.append("], \"storages\": [");
        for (int i = 0; i < f.storages().size(); i++) {
            StorageInfo s = f.storages().get(i);
            b.append(i > 0 ? ", " : "").append("{\"key\": ").append(q(s.key()))
                    .append(", \"dtype\": ").append(q(s.dtype().torchName()))
                    .append(", \"numel\": ").append(s.numel())
                    .append(", \"offset\": ").append(s.offset())
                    .append(", \"length\": ").append(s.length()).append('}');
        }
        return b.append("]}").toString();
    }

    /** A JSON string literal of s, in ASCII (other characters escaped). */
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7E) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return new String(b.append('"').toString().getBytes(StandardCharsets.US_ASCII), StandardCharsets.US_ASCII);
    }
}
