package org.flserver.aggregation;

import org.flserver.tensor.DType;
import org.flserver.tensor.HalfFloats;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Test helper: the values of the whole storage behind a named tensor of a weight file, as doubles
 * (floats widened exactly, integers as they are, bools as 0 and 1), read straight from the file's
 * bytes at the storage's offset.
 */
final class StorageValues {

    private StorageValues() {
    }

    static double[] of(Path file, String tensor) throws IOException {
        WeightFile f = WeightFiles.open(file);
        TensorInfo t = f.tensors().stream().filter(x -> x.name().equals(tensor)).findFirst()
                .orElseThrow(() -> new AssertionError("no tensor " + tensor + " in " + file));
        StorageInfo s = f.storage(t.storageKey()).orElseThrow();
        ByteBuffer b = ByteBuffer.allocate((int) s.length()).order(s.byteOrder());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (ch.read(b, s.offset() + b.position()) < 0) {
                    throw new AssertionError("short file");
                }
            }
        }
        b.flip();
        DType d = s.dtype();
        double[] v = new double[(int) s.numel()];
        for (int j = 0; j < v.length; j++) {
            v[j] = switch (d) {
                case FLOAT64 -> b.getDouble();
                case FLOAT32 -> b.getFloat();
                case FLOAT16 -> HalfFloats.halfToFloat(b.getShort());
                case BFLOAT16 -> HalfFloats.bfloat16ToFloat(b.getShort());
                case INT64 -> b.getLong();
                case INT32 -> b.getInt();
                case INT16 -> b.getShort();
                case INT8 -> b.get();
                case UINT8 -> b.get() & 0xFF;
                case BOOL -> b.get() != 0 ? 1 : 0;
                default -> throw new AssertionError("dtype " + d);
            };
        }
        return v;
    }
}
