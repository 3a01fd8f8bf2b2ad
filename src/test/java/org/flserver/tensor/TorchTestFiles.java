package org.flserver.tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Small files the shared fixtures do not have, written the way torch 1.13 writes them, for tests
 * that need them without Python: {@code torch.save(tensor)} of one bare 1-D tensor (what a SWAG
 * client uploads as a moment vector), and single-tensor safetensors files.
 */
public final class TorchTestFiles {

    private TorchTestFiles() {
    }

    /** {@code torch.save(torch.tensor(values))}: a bare float32 1-D tensor. */
    public static byte[] bareFloatTensor(float[] values) {
        ByteBuffer data = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            data.putFloat(v);
        }
        return bareTensor("FloatStorage", values.length, new long[]{values.length}, data.array());
    }

    /** {@code torch.save(tensor)} of a tensor with the given storage class, shape and raw little-endian bytes. */
    public static byte[] bareTensor(String storageClass, long numel, long[] shape, byte[] data) {
        ByteBuffer p = ByteBuffer.allocate(512 + shape.length * 40).order(ByteOrder.LITTLE_ENDIAN);
        p.put((byte) 0x80).put((byte) 2);
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.put((byte) '(').put((byte) '(');
        unicode(p, "storage");
        global(p, "torch", storageClass);
        unicode(p, "0");
        unicode(p, "cpu");
        long1(p, numel);
        p.put((byte) 't').put((byte) 'Q');
        p.put((byte) 'K').put((byte) 0);
        long[] stride = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = s;
            s *= shape[i];
        }
        tuple(p, shape);
        tuple(p, stride);
        p.put((byte) 0x89);
        global(p, "collections", "OrderedDict");
        p.put((byte) ')').put((byte) 'R');
        p.put((byte) 't').put((byte) 'R').put((byte) '.');
        byte[] pickle = new byte[p.position()];
        p.flip().get(pickle);
        return archive(pickle, data);
    }

    /** A safetensors file with one tensor {@code name} of the given code ({@code F32}, …), shape and raw bytes. */
    public static byte[] safetensors(String name, String code, long[] shape, byte[] data) {
        StringBuilder dims = new StringBuilder();
        for (long d : shape) {
            dims.append(dims.length() == 0 ? "" : ",").append(d);
        }
        String header = "{\"" + name + "\":{\"dtype\":\"" + code + "\",\"shape\":[" + dims + "],\"data_offsets\":[0,"
                + data.length + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data);
        return out.array();
    }

    /** A safetensors file holding one float32 1-D tensor. */
    public static byte[] safetensorsVector(float[] values) {
        ByteBuffer data = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            data.putFloat(v);
        }
        return safetensors("moment", "F32", new long[]{values.length}, data.array());
    }

    /**
     * A state dict {@code {t0: view 0, t1: view 1, …}} of float32 views (sizes and strides as given)
     * into one 12-element storage: crafted views that PyTorch would not write, e.g. stride 0.
     */
    public static byte[] floatViews(long[][] sizes, long[][] strides) {
        ByteBuffer p = ByteBuffer.allocate(256 + sizes.length * 400).order(ByteOrder.LITTLE_ENDIAN);
        p.put((byte) 0x80).put((byte) 2);
        orderedDict(p);
        p.put((byte) '(');
        for (int i = 0; i < sizes.length; i++) {
            unicode(p, "t" + i);
            floatView(p, 0, sizes[i], strides[i]);
        }
        p.put((byte) 'u').put((byte) '.');
        byte[] pickle = new byte[p.position()];
        p.flip().get(pickle);
        return archive(pickle, new byte[48]);
    }

    /** Pickles {@code collections.OrderedDict()}. */
    public static void orderedDict(ByteBuffer p) {
        global(p, "collections", "OrderedDict");
        p.put((byte) ')').put((byte) 'R');
    }

    /** Pickles {@code _rebuild_tensor_v2(float storage "0" of 12 elements, offset, size, stride, False, OrderedDict())}. */
    public static void floatView(ByteBuffer p, long offset, long[] size, long[] stride) {
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.put((byte) '(').put((byte) '(');
        unicode(p, "storage");
        global(p, "torch", "FloatStorage");
        unicode(p, "0");
        unicode(p, "cpu");
        long1(p, 12);
        p.put((byte) 't').put((byte) 'Q');
        long1(p, offset);
        tuple(p, size);
        tuple(p, stride);
        p.put((byte) 0x89);
        orderedDict(p);
        p.put((byte) 't').put((byte) 'R');
    }

    /** A torch.save archive of the given {@code data.pkl} and one storage record {@code data/0}. */
    public static byte[] archive(byte[] pickle, byte[] data) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            stored(zip, "archive/data.pkl", pickle);
            stored(zip, "archive/data/0", data);
            stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] content) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(content.length);
        e.setCompressedSize(content.length);
        CRC32 crc = new CRC32();
        crc.update(content);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(content);
        zip.closeEntry();
    }

    private static void tuple(ByteBuffer p, long[] values) {
        p.put((byte) '(');
        for (long v : values) {
            long1(p, v);
        }
        p.put((byte) 't');
    }

    /** Pickle opcode GLOBAL {@code module name}. */
    public static void global(ByteBuffer p, String module, String name) {
        p.put((byte) 'c').put((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** Pickle opcode BINUNICODE. */
    public static void unicode(ByteBuffer p, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        p.put((byte) 'X').putInt(b.length).put(b);
    }

    /** Pickle opcode LONG1 with 8 bytes. */
    public static void long1(ByteBuffer p, long v) {
        p.put((byte) 0x8a).put((byte) 8).putLong(v);
    }
}
