package org.flserver.inference.worker;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.flserver.inference.Tensor;
import org.flserver.tensor.DType;

/**
 * The frames the server and a sandboxed inference worker exchange over the worker's pipes: the
 * worker announces itself once ({@link #writeReady}), then answers each {@link Request} with one
 * {@link Reply}, strictly one at a time.
 *
 * <p>Plain {@link DataOutputStream} framing, because both ends are ours and run the same build. The
 * worker runs user code, so the server reads what the worker writes as untrusted: every count and
 * length is checked against the limits the reader is given before anything is allocated, and a
 * frame that breaks them ends the worker ({@link ProtocolException}). A tensor is bounded by its
 * bytes and by its shape: a tensor with a dimension of size 0 holds no bytes whatever its other
 * dimensions, yet the statistics allocate per sample ({@code argmax} of {@code [1, 0, 10^9]} is
 * 10^9 indices), so its dimensions are multiplied with a 0 counted as 1 ({@link #extent}) and that
 * product is bounded too ({@link OutputRefused}).
 */
public final class WorkerProtocol {

    static final int READY = 0x464c5759;   // "FLWY"
    static final int REQUEST = 0x464c5751; // "FLWQ"
    static final int REPLY = 0x464c5752;   // "FLWR"

    /** Most dimensions a tensor may have on the wire (libtorch allows 64). */
    static final int MAX_RANK = 64;
    /** Most modules a request may name (an ensemble's members and a preprocessing module). */
    static final int MAX_MODULES = 1024;
    /** Longest message a reply may carry; longer ones are cut by the writer. */
    static final int MAX_MESSAGE_CHARS = 2000;

    private WorkerProtocol() {
    }

    /** The worker's stream broke a rule of the protocol (or a limit): the worker is ended. */
    public static class ProtocolException extends IOException {
        private static final long serialVersionUID = 1L;

        public ProtocolException(String message) {
            super(message);
        }
    }

    /**
     * A tensor in a reply has a shape the server will not take (more elements than
     * {@link Limits#maxElements}, counting a dimension of 0 as 1): the model's fault, told to its
     * caller; the worker is ended all the same, as the rest of its frame is left unread.
     */
    public static final class OutputRefused extends ProtocolException {
        private static final long serialVersionUID = 1L;

        public OutputRefused(String message) {
            super(message);
        }
    }

    /**
     * One inference: the modules by file hash, the method and its parameters, the input.
     *
     * @param method        NONE, MC_DROPOUT, ENSEMBLE or SWAG
     * @param modules       the module(s) to run (an ensemble's members, else one)
     * @param preprocessing the preprocessing module's hash, or null
     * @param inputShape    the declared shape the preprocessed input must have (-1: any size), or null
     * @param samples       MC-dropout passes or SWAG samples
     * @param seed          the generator's seed, or null
     * @param swagMean      SWAG's first moment, else null
     * @param swagSecond    SWAG's second moment, else null
     * @param input         the decoded model input
     */
    public record Request(String method, List<String> modules, String preprocessing, long[] inputShape,
                          int samples, Long seed, float[] swagMean, float[] swagSecond, Tensor input) {
    }

    /** A worker's answer: status 200 with the raw outputs, or a status and a message for the caller. */
    public record Reply(int status, String message, List<Tensor> outputs) {

        public static Reply ok(List<Tensor> outputs) {
            return new Reply(200, null, outputs);
        }

        public static Reply error(int status, String message) {
            return new Reply(status, message, List.of());
        }
    }

    /**
     * The bounds a reader applies to what it reads.
     *
     * @param maxTensorBytes  bytes of one tensor
     * @param maxTotalBytes   bytes of all tensors of a reply
     * @param maxTensors      tensors in a reply
     * @param maxVectorLength elements of a SWAG moment in a request
     * @param maxElements     the {@link #extent} of one tensor, and of all tensors of a reply together
     */
    public record Limits(long maxTensorBytes, long maxTotalBytes, int maxTensors, int maxVectorLength,
                         long maxElements) {
    }

    public static void writeReady(DataOutputStream out, String description) throws IOException {
        out.writeInt(READY);
        out.writeUTF(cut(description));
        out.flush();
    }

    /** The worker's description (engine and version) once it is ready to take requests. */
    public static String readReady(DataInputStream in) throws IOException {
        expect(in, READY);
        return in.readUTF();
    }

    public static void writeRequest(DataOutputStream out, Request r) throws IOException {
        out.writeInt(REQUEST);
        out.writeUTF(r.method());
        out.writeInt(r.modules().size());
        for (String m : r.modules()) {
            out.writeUTF(m);
        }
        writeNullable(out, r.preprocessing());
        if (r.inputShape() == null) {
            out.writeInt(-1);
        } else {
            out.writeInt(r.inputShape().length);
            for (long d : r.inputShape()) {
                out.writeLong(d);
            }
        }
        out.writeInt(r.samples());
        out.writeBoolean(r.seed() != null);
        out.writeLong(r.seed() == null ? 0 : r.seed());
        writeVector(out, r.swagMean());
        writeVector(out, r.swagSecond());
        writeTensor(out, r.input());
        out.flush();
    }

    /** A request, or null at the end of the stream (the server closed the pipe: the worker exits). */
    public static Request readRequest(DataInputStream in, Limits limits) throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            return null;
        }
        if (magic != REQUEST) {
            throw new ProtocolException("not a request frame");
        }
        String method = in.readUTF();
        int n = count(in.readInt(), MAX_MODULES, "modules");
        List<String> modules = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            modules.add(in.readUTF());
        }
        String preprocessing = readNullable(in);
        int rank = in.readInt();
        long[] shape = null;
        if (rank >= 0) {
            shape = new long[count(rank, MAX_RANK, "dimensions")];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = in.readLong();
            }
        }
        int samples = in.readInt();
        boolean seeded = in.readBoolean();
        long seed = in.readLong();
        float[] mean = readVector(in, limits);
        float[] second = readVector(in, limits);
        Tensor input = readTensor(in, limits, limits.maxTensorBytes(), limits.maxElements());
        return new Request(method, modules, preprocessing, shape, samples, seeded ? seed : null, mean, second, input);
    }

    public static void writeReply(DataOutputStream out, Reply r) throws IOException {
        out.writeInt(REPLY);
        out.writeInt(r.status());
        if (r.status() != 200) {
            out.writeUTF(cut(r.message()));
        } else {
            out.writeInt(r.outputs().size());
            for (Tensor t : r.outputs()) {
                writeTensor(out, t);
            }
        }
        out.flush();
    }

    /** A reply, each tensor and their sum bounded by {@code limits}. */
    public static Reply readReply(DataInputStream in, Limits limits) throws IOException {
        expect(in, REPLY);
        int status = in.readInt();
        if (status != 200) {
            if (status < 400 || status > 599) {
                throw new ProtocolException("a reply with status " + status);
            }
            return Reply.error(status, in.readUTF());
        }
        int n = count(in.readInt(), limits.maxTensors(), "outputs");
        List<Tensor> outputs = new ArrayList<>(n);
        long total = 0;
        long elements = 0;
        for (int i = 0; i < n; i++) {
            Tensor t = readTensor(in, limits, Math.min(limits.maxTensorBytes(), limits.maxTotalBytes() - total),
                    limits.maxElements() - elements);
            total += t.data().remaining();
            elements += extent(t.shape());
            outputs.add(t);
        }
        return Reply.ok(outputs);
    }

    private static void writeTensor(DataOutputStream out, Tensor t) throws IOException {
        out.writeUTF(t.dtype().name());
        long[] shape = t.shape();
        out.writeInt(shape.length);
        for (long d : shape) {
            out.writeLong(d);
        }
        ByteBuffer data = t.data().duplicate();
        out.writeLong(data.remaining());
        if (data.hasArray()) {
            out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
        } else {
            byte[] chunk = new byte[64 << 10];
            while (data.hasRemaining()) {
                int k = Math.min(chunk.length, data.remaining());
                data.get(chunk, 0, k);
                out.write(chunk, 0, k);
            }
        }
    }

    private static Tensor readTensor(DataInputStream in, Limits limits, long maxBytes, long maxElements)
            throws IOException {
        DType dtype;
        try {
            dtype = DType.valueOf(in.readUTF());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("a tensor of an unknown dtype");
        }
        long[] shape = new long[count(in.readInt(), MAX_RANK, "dimensions")];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = in.readLong();
            if (shape[i] < 0) {
                throw new ProtocolException("a negative dimension");
            }
        }
        long extent = extent(shape);
        if (extent < 0 || extent > maxElements) {
            throw new OutputRefused("The model's output of shape " + Arrays.toString(shape) + " is too large: the"
                    + " server takes at most " + limits.maxElements() + " elements per request (a dimension of"
                    + " size 0 counted as 1).");
        }
        long elements = Arrays.stream(shape).anyMatch(d -> d == 0) ? 0 : extent;
        long bytes = in.readLong();
        if (bytes < 0 || bytes > maxBytes || bytes > Integer.MAX_VALUE - 8
                || elements > bytes || elements * dtype.size() != bytes) {
            throw new ProtocolException("a tensor of " + bytes + " bytes (at most " + maxBytes + " allowed, "
                    + elements + " elements of " + dtype + ")");
        }
        byte[] data = new byte[(int) bytes];
        in.readFully(data);
        return new Tensor(dtype, shape, ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN));
    }

    /**
     * The product of the dimensions with a dimension of 0 counted as 1: the number of elements of a
     * non-empty tensor, and for an empty one the most numbers a statistic over it may produce; -1
     * when it overflows a long.
     */
    public static long extent(long[] shape) {
        long extent = 1;
        for (long d : shape) {
            try {
                extent = Math.multiplyExact(extent, Math.max(1, d));
            } catch (ArithmeticException e) {
                return -1;
            }
        }
        return extent;
    }

    private static void writeVector(DataOutputStream out, float[] v) throws IOException {
        if (v == null) {
            out.writeInt(-1);
            return;
        }
        out.writeInt(v.length);
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        out.write(b.array());
    }

    private static float[] readVector(DataInputStream in, Limits limits) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            return null;
        }
        count(n, limits.maxVectorLength(), "vector elements");
        byte[] bytes = new byte[n * 4];
        in.readFully(bytes);
        float[] v = new float[n];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    private static void writeNullable(DataOutputStream out, String s) throws IOException {
        out.writeBoolean(s != null);
        if (s != null) {
            out.writeUTF(s);
        }
    }

    private static String readNullable(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }

    private static void expect(DataInputStream in, int magic) throws IOException {
        if (in.readInt() != magic) {
            throw new ProtocolException("unexpected frame");
        }
    }

    private static int count(int n, int max, String what) throws ProtocolException {
        if (n < 0 || n > max) {
            throw new ProtocolException(n + " " + what + " (at most " + max + ")");
        }
        return n;
    }

    /** At most {@link #MAX_MESSAGE_CHARS} characters, which also keeps writeUTF's 64 KiB limit. */
    private static String cut(String s) {
        String text = s == null ? "" : s;
        return text.length() > MAX_MESSAGE_CHARS ? text.substring(0, MAX_MESSAGE_CHARS) + "…" : text;
    }
}
