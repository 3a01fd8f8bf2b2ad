package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.IncompatibleWeightsException;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.pytorch.PicklePolicy;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The work of one {@link StreamingFedAvg} aggregation, decided before any element is read: the
 * weights (as doubles, and as exact integers where they are), which storages take the float32 fast
 * path, whether client files are read through mapping windows and how large those are, and the
 * units of work (storage, first component, component count) that the threads take one by one, with
 * a slot for each unit's CRC-32. It also holds the open client files.
 */
final class FedAvgPlan {

    /** At most this many bytes of client files are mapped at once (all threads together). */
    static final long MAPPED_BYTES = 128L << 20;

    final WeightFile template;
    final List<WeightFile> files;
    final double[] weights;
    final long[] intWeights;
    final double total;
    final long intTotal;
    final boolean exactIntegers;
    final BigInteger bigTotal;
    final StorageInfo[][] clientStorages; // [storage][client]
    final FileChannel[] channels;
    final boolean[] fast; // [storage]: float32 (or complex64), little-endian in the template and every client
    final int block;
    final int window; // elements per unit of a fast storage when read through mappings; 0: positional reads
    // units: storage index, first component, component count
    final int[] unitStorage;
    final long[] unitStart;
    final int[] unitCount;
    final int[] unitCrc;

    /**
     * @param threads  threads that will share the units (the mapping budget is divided among them)
     * @param block    elements per block
     * @param mapping  false forces positional reads everywhere
     */
    FedAvgPlan(WeightFile template, List<WeightFile> files, List<WeightedFile> clients, double total,
            boolean integral, int threads, int block, boolean mapping) throws WeightFileException {
        this.template = template;
        this.files = files;
        this.total = total;
        this.block = block;
        int n = files.size();
        weights = new double[n];
        intWeights = new long[n];
        BigInteger t = BigInteger.ZERO;
        for (int i = 0; i < n; i++) {
            weights[i] = clients.get(i).weight();
            intWeights[i] = (long) weights[i];
            t = t.add(BigInteger.valueOf(intWeights[i]));
        }
        bigTotal = t;
        exactIntegers = integral && t.bitLength() < 63;
        intTotal = exactIntegers ? t.longValue() : 0;
        List<StorageInfo> st = template.storages();
        clientStorages = new StorageInfo[st.size()][n];
        fast = new boolean[st.size()];
        long modelBytes = 0;
        for (StorageInfo info : st) {
            modelBytes += info.length();
        }
        window = mappingWindow(modelBytes, n, threads, block, mapping);
        long unitTotal = 0;
        for (int s = 0; s < st.size(); s++) {
            for (int c = 0; c < n; c++) {
                String key = st.get(s).key();
                clientStorages[s][c] = files.get(c).storage(key).orElseThrow(() ->
                        new IncompatibleWeightsException("storage " + key + " is missing from a client file"));
            }
            fast[s] = componentType(st.get(s).dtype()) == DType.FLOAT32
                    && st.get(s).byteOrder() == ByteOrder.LITTLE_ENDIAN;
            for (StorageInfo cs : clientStorages[s]) {
                fast[s] &= cs.byteOrder() == ByteOrder.LITTLE_ENDIAN;
            }
            unitTotal += (components(st.get(s)) + span(s) - 1) / span(s);
        }
        if (unitTotal > Integer.MAX_VALUE - 8) {
            throw new WeightFileException("model too large for the block size");
        }
        unitStorage = new int[(int) unitTotal];
        unitStart = new long[(int) unitTotal];
        unitCount = new int[(int) unitTotal];
        unitCrc = new int[(int) unitTotal];
        int u = 0;
        for (int s = 0; s < st.size(); s++) {
            long comps = components(st.get(s));
            int span = span(s);
            for (long e = 0; e < comps; e += span) {
                unitStorage[u] = s;
                unitStart[u] = e;
                unitCount[u] = (int) Math.min(span, comps - e);
                u++;
            }
        }
        channels = new FileChannel[n];
    }

    /**
     * Opens the template and the clients' files (each checked by the reader and against the
     * template) and plans their average.
     *
     * @throws IllegalArgumentException     when there are no clients or the total weight is zero
     * @throws IncompatibleWeightsException when a client's kind or architecture differs from the template
     * @throws WeightFileException          when any file is refused by the reader
     */
    static FedAvgPlan of(List<WeightedFile> clients, Path template, PicklePolicy policy, int threads, int block,
            boolean mapping) throws IOException {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("no client files to average");
        }
        double total = 0;
        boolean integral = true;
        for (WeightedFile c : clients) {
            total += c.weight();
            integral &= c.weight() == Math.rint(c.weight()) && c.weight() <= (1L << 53);
        }
        if (!(total > 0)) {
            throw new IllegalArgumentException("the total weight of the clients is zero");
        }
        WeightFile tpl = WeightFiles.open(template, policy);
        List<WeightFile> files = new ArrayList<>();
        for (WeightedFile c : clients) {
            WeightFile f = WeightFiles.open(c.path(), policy);
            tpl.requireCompatible(f);
            files.add(f);
        }
        return new FedAvgPlan(tpl, files, clients, total, integral, threads, block, mapping);
    }

    /** Complex storages are averaged as pairs of their real components. */
    static DType componentType(DType t) {
        return t == DType.COMPLEX64 ? DType.FLOAT32 : t == DType.COMPLEX128 ? DType.FLOAT64 : t;
    }

    static int componentSize(DType t) {
        return componentType(t).size();
    }

    private static long components(StorageInfo s) {
        return s.length() / componentSize(s.dtype());
    }

    /** Elements per unit of storage s: a mapping window for fast storages when mapping, else a block. */
    private int span(int s) {
        return fast[s] && window > 0 ? window : block;
    }

    /**
     * Elements per client mapping window, or 0 to use positional reads. All threads together keep
     * at most max(16 MiB, min(half the model size, 128 MiB)) of client files mapped (mapped pages
     * count towards the resident set, and peak RSS must stay below two model sizes plus 256 MB for
     * any N); when that leaves less than 256 KiB per client (smaller windows cost more in mapping
     * and page faults than positional reads do), or mappings cannot be released deterministically,
     * positional reads into a reused buffer are used instead.
     */
    private static int mappingWindow(long modelBytes, int n, int threads, int block, boolean mapping) {
        if (!mapping || !Unmapper.AVAILABLE) {
            return 0;
        }
        long budget = Math.max(16L << 20, Math.min(modelBytes / 2, MAPPED_BYTES)) / threads;
        long perClient = budget / n / 4; // elements
        perClient -= perClient % block;
        return perClient * 4 < (256 << 10) ? 0 : (int) Math.min(perClient, 1 << 26);
    }

    void open() throws IOException {
        for (int c = 0; c < files.size(); c++) {
            channels[c] = FileChannel.open(files.get(c).path(), StandardOpenOption.READ);
            if (channels[c].size() != files.get(c).size()) {
                throw new WeightFileException(files.get(c).path().getFileName() + " changed after it was read");
            }
        }
    }

    void close() throws IOException {
        for (FileChannel ch : channels) {
            if (ch != null) {
                ch.close();
            }
        }
    }

    long bytesRead() {
        long b = 0;
        for (StorageInfo[] row : clientStorages) {
            for (StorageInfo s : row) {
                b += s.length();
            }
        }
        return b;
    }
}
