package org.flserver.round;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import org.flserver.aggregation.AggregationReport;
import org.flserver.aggregation.DpSettings;
import org.flserver.aggregation.RdpAccountant;
import org.flserver.aggregation.RobustAggregation;
import org.flserver.aggregation.ServerOptimizer;
import org.flserver.aggregation.StreamingFedAvg;
import org.flserver.aggregation.WeightedFile;
import org.flserver.model.ModelFiles;
import org.flserver.model.StoredFile;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.safetensors.SafetensorsWriter;
import org.flserver.training.AggregationOptions;

/**
 * Computes what an aggregation job produces, outside any transaction: files in, a stored file out.
 * The output depends only on the inputs (same files, same weights, same order → same bytes), which
 * is what makes re-running a job after a crash harmless.
 *
 * <ul>
 * <li>MODEL: the round's local models combined by the training's rule ({@link RobustAggregation}:
 *     weighted FedAvg by default, or {@code options.aggregation}'s rule, or DP-FedAvg under
 *     {@code options.dp}), written into a copy of the <em>global model's current file</em> — the
 *     server-held template that started as the actor's upload — so no client's pickle ever reaches
 *     another client; then, under {@code options.server_optimizer}, one optimizer step from the
 *     current global model and state to the new global model and state (design.md §4.2-4.4).</li>
 * <li>SWAG_MOMENTS: the sample-size-weighted mean of the participants' first and second moment
 *     vectors (api.md §7.5), each written as a one-tensor safetensors file by our own writer.</li>
 * </ul>
 */
@ApplicationScoped
public class JobRunner {

    private static final Logger LOG = Logger.getLogger(JobRunner.class.getName());

    /**
     * Says once per class loader which loops fold float32 weights: the Vector API ones need the JVM
     * option {@code --add-modules=jdk.incubator.vector} (README), and an operator should be able to
     * see from the log whether the server got it.
     */
    private static final AtomicBoolean KERNELS_LOGGED = new AtomicBoolean();

    /** Element chunk for the moment means: 1 Mi elements (8 MiB of accumulator per chunk). */
    private static final int CHUNK = 1 << 20;

    @Inject
    ModelFiles files;

    /** Stateless apart from its thread count and block size: one for all jobs. */
    private final RobustAggregation aggregation = new RobustAggregation();

    /** The job's output file(s): one for MODEL, first and second moment for SWAG_MOMENTS. */
    public record Output(StoredFile first, StoredFile second, AggregationOutcome outcome) {
    }

    public Output run(JobQueue.ClaimedJob job) throws IOException {
        if (job.inputs().isEmpty()) {
            throw new WeightFileException("the round has no updates to aggregate");
        }
        // A missing file is this instance's problem (its data directory is not the shared one), not
        // the inputs': an IOException lets the job be retried, by another instance if need be.
        List<String> needed = new ArrayList<>();
        if (job.kind() == JobKind.MODEL) {
            needed.add(job.templateSha256());
            if (job.optimizerStateSha256() != null) {
                needed.add(job.optimizerStateSha256());
            }
        }
        for (JobInput input : job.inputs()) {
            needed.add(input.sha256());
            if (input.secondSha256() != null) {
                needed.add(input.secondSha256());
            }
        }
        for (String sha256 : needed) {
            if (!files.exists(sha256)) {
                throw new IOException("stored file " + sha256 + " is missing on this server; all instances must"
                        + " share one data directory (fl.data.dir)");
            }
        }
        return job.kind() == JobKind.MODEL ? aggregateModel(job) : aggregateMoments(job);
    }

    private Output aggregateModel(JobQueue.ClaimedJob job) throws IOException {
        boolean noData = totalSampleSize(job.inputs()) == 0;
        List<WeightedFile> clients = new ArrayList<>();
        for (JobInput input : job.inputs()) {
            clients.add(new WeightedFile(files.path(input.sha256()), noData ? 1 : input.sampleSize()));
        }
        if (KERNELS_LOGGED.compareAndSet(false, true)) {
            LOG.info(() -> "FedAvg folds float32 weights with " + StreamingFedAvg.float32Kernels());
        }
        AggregationOptions options = job.options();
        Path template = files.path(job.templateSha256());
        Path aggregate = files.newTempFile("aggregate");
        Path global = null;
        Path state = null;
        try {
            AggregationReport report;
            try {
                // The mean goes through RobustAggregation too: the same bits as StreamingFedAvg, and
                // an update holding NaN or ±Inf is refused instead of reaching the global model.
                report = options.dp() != null
                        ? aggregation.dpFedAvg(options.dp(), job.round(), clients, template, aggregate)
                        : aggregation.aggregate(options.rule(), clients, template, aggregate);
            } catch (IllegalArgumentException e) {
                // too few updates for Krum or Multi-Krum's m (a deadline closed the round with fewer
                // than expected), or weights that sum to 0: a retry cannot cure it, so the training
                // goes to E with this reason
                throw new WeightFileException(e.getMessage(), e);
            }
            if (options.optimizer() == null) {
                StoredFile out = files.commitFile(aggregate);
                if (options.isDefault()) {
                    return new Output(out, null, AggregationOutcome.NONE);
                }
                return new Output(out, null, outcome(job, report, out, null, null));
            }
            // The optimizer writes the new global model before its state; both are committed into
            // the store, and neither is current until the completion records the pair (design.md §4.4).
            // A step that throws leaves nothing current: the job fails or is retried.
            global = files.newTempFile("global");
            state = files.newTempFile("optimizer");
            Path stateIn = job.optimizerStateSha256() == null ? null : files.path(job.optimizerStateSha256());
            ServerOptimizer.Step step = new ServerOptimizer(options.optimizer())
                    .step(template, aggregate, stateIn, global, state);
            StoredFile out = files.commitFile(global);
            StoredFile stateFile = step.state() == null ? null : files.commitFile(state);
            return new Output(out, null, outcome(job, report, out, stateFile, step.steps()));
        } finally {
            Files.deleteIfExists(aggregate);
            if (global != null) {
                Files.deleteIfExists(global);
            }
            if (state != null) {
                Files.deleteIfExists(state);
            }
        }
    }

    /**
     * The outcome recorded in provenance: the report with every file named by its SHA-256 instead of
     * this server's path, the optimizer's state and steps, and for DP σ and the ε spent so far.
     */
    private static AggregationOutcome outcome(JobQueue.ClaimedJob job, AggregationReport report, StoredFile out,
                                              StoredFile state, Long steps) {
        List<AggregationReport.ClientReport> named = new ArrayList<>();
        for (int i = 0; i < report.clients().size(); i++) {
            AggregationReport.ClientReport c = report.clients().get(i);
            named.add(new AggregationReport.ClientReport(Path.of(job.inputs().get(i).sha256()), c.weight(),
                    c.krumScore(), c.selected(), c.trimmedLow(), c.trimmedHigh(), c.deltaNorm(), c.clipFactor()));
        }
        String json = new AggregationReport(report.rule(), Path.of(out.sha256()), named, report.trimmedPerSide(),
                report.byzantine(), report.selectCount(), report.noiseStddev()).toJson();
        DpSettings dp = job.options().dp();
        if (dp == null) {
            return new AggregationOutcome(json, state, steps, null, null, null);
        }
        int rounds = job.dpRoundsBefore() + 1;
        // z = 0 (clipping only) gives ε = ∞, recorded as such
        double epsilon = RdpAccountant.epsilon(job.samplingRate(), dp.noiseMultiplier(), rounds, dp.delta()).epsilon();
        return new AggregationOutcome(json, state, steps, report.noiseStddev(), rounds, epsilon);
    }

    private Output aggregateMoments(JobQueue.ClaimedJob job) throws IOException {
        List<JobInput> inputs = job.inputs();
        List<Path> first = new ArrayList<>();
        List<Path> second = new ArrayList<>();
        double[] weights = new double[inputs.size()];
        boolean noData = totalSampleSize(inputs) == 0;
        for (int i = 0; i < inputs.size(); i++) {
            first.add(files.path(inputs.get(i).sha256()));
            second.add(files.path(inputs.get(i).secondSha256()));
            weights[i] = noData ? 1 : inputs.get(i).sampleSize();
        }
        return new Output(meanVector(first, weights, "swag_first_moment"),
                meanVector(second, weights, "swag_second_moment"), AggregationOutcome.NONE);
    }

    /**
     * Sample size 0 means "trained on no data": such an update has no weight. When every update of
     * a round says so, the weighted mean is undefined; the round then takes the plain mean (every
     * update weighted 1) rather than failing the training.
     */
    static long totalSampleSize(List<JobInput> inputs) {
        return inputs.stream().mapToLong(JobInput::sampleSize).sum();
    }

    /**
     * Weighted mean of one-tensor files (1-D float32 or float64), chunk by chunk: memory is one
     * chunk of accumulator plus the float32 result, never the N input vectors.
     */
    private StoredFile meanVector(List<Path> paths, double[] weights, String name) throws IOException {
        List<Vector> vectors = new ArrayList<>();
        for (Path p : paths) {
            vectors.add(Vector.open(p));
        }
        long length = vectors.get(0).length;
        for (Vector v : vectors) {
            if (v.length != length) {
                throw new WeightFileException("the participants' moment vectors differ in length ("
                        + length + " and " + v.length + ")");
            }
        }
        if (length > Integer.MAX_VALUE / 4) {
            throw new WeightFileException("moment vector too long: " + length);
        }
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        if (!(total > 0)) {
            throw new WeightFileException("the total sample size of the round is 0");
        }
        ByteBuffer result = ByteBuffer.allocate((int) length * 4).order(ByteOrder.LITTLE_ENDIAN);
        double[] acc = new double[CHUNK];
        for (long start = 0; start < length; start += CHUNK) {
            int n = (int) Math.min(CHUNK, length - start);
            Arrays.fill(acc, 0, n, 0.0);
            for (int c = 0; c < vectors.size(); c++) {
                vectors.get(c).addTo(acc, start, n, weights[c]);
            }
            for (int j = 0; j < n; j++) {
                result.putFloat((int) (start + j) * 4, (float) (acc[j] / total));
            }
        }
        Path out = files.newTempFile("moments");
        try {
            SafetensorsWriter.write(out, Map.of("format", "pt"),
                    List.of(new SafetensorsWriter.Tensor(name, DType.FLOAT32, List.of(length), result)));
            return files.commitFile(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** A contiguous 1-D floating tensor inside a weight file, read by positional reads. */
    private record Vector(Path path, long offset, long length, DType dtype) {

        static Vector open(Path path) throws IOException {
            WeightFile file = WeightFiles.open(path);
            if (file.tensors().size() != 1) {
                throw new WeightFileException("a moment file must hold exactly one tensor");
            }
            TensorInfo t = file.tensors().get(0);
            StorageInfo s = file.storage(t.storageKey()).orElseThrow();
            if (t.shape().size() != 1 || (t.dtype() != DType.FLOAT32 && t.dtype() != DType.FLOAT64)
                    || (t.shape().get(0) > 1 && t.stride().get(0) != 1) || s.byteOrder() != ByteOrder.LITTLE_ENDIAN) {
                throw new WeightFileException("a moment file must hold one contiguous 1-D float tensor");
            }
            long offset = s.offset() + t.storageOffset() * t.dtype().size();
            return new Vector(path, offset, t.shape().get(0), t.dtype());
        }

        void addTo(double[] acc, long start, int n, double w) throws IOException {
            int size = dtype.size();
            ByteBuffer buf = ByteBuffer.allocate(n * size).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long pos = offset + start * size;
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new WeightFileException("moment file ends early");
                    }
                }
            }
            buf.flip();
            for (int j = 0; j < n; j++) {
                double x = size == 4 ? buf.getFloat(j * 4) : buf.getDouble(j * 8);
                acc[j] += x * w;
            }
        }
    }
}
