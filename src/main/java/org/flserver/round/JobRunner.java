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

/**
 * Computes what an aggregation job produces, outside any transaction: files in, a stored file out.
 * The output depends only on the inputs (same files, same weights, same order → same bytes), which
 * is what makes re-running a job after a crash harmless.
 *
 * <ul>
 * <li>MODEL: weighted FedAvg of the round's local models with {@link StreamingFedAvg}, written into
 *     a copy of the <em>global model's current file</em> — the server-held template that started as
 *     the actor's upload — so no client's pickle ever reaches another client.</li>
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

    /** The job's output file(s): one for MODEL, first and second moment for SWAG_MOMENTS. */
    public record Output(StoredFile first, StoredFile second) {
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
        return job.kind() == JobKind.MODEL ? new Output(aggregateModel(job), null) : aggregateMoments(job);
    }

    private StoredFile aggregateModel(JobQueue.ClaimedJob job) throws IOException {
        boolean noData = totalSampleSize(job.inputs()) == 0;
        List<WeightedFile> clients = new ArrayList<>();
        for (JobInput input : job.inputs()) {
            clients.add(new WeightedFile(files.path(input.sha256()), noData ? 1 : input.sampleSize()));
        }
        if (KERNELS_LOGGED.compareAndSet(false, true)) {
            LOG.info(() -> "FedAvg folds float32 weights with " + StreamingFedAvg.float32Kernels());
        }
        Path out = files.newTempFile("aggregate");
        try {
            new StreamingFedAvg().aggregate(clients, files.path(job.templateSha256()), out);
            return files.commitFile(out);
        } finally {
            Files.deleteIfExists(out);
        }
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
                meanVector(second, weights, "swag_second_moment"));
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
