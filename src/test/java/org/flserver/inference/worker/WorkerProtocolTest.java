package org.flserver.inference.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.flserver.inference.Tensor;
import org.flserver.inference.worker.WorkerProtocol.Limits;
import org.flserver.inference.worker.WorkerProtocol.OutputRefused;
import org.flserver.inference.worker.WorkerProtocol.ProtocolException;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * The server's reader of worker replies: a reply is untrusted (the worker runs user code), so its
 * tensors are bounded by shape as well as by bytes — an empty tensor carries no bytes whatever its
 * other dimensions say.
 */
class WorkerProtocolTest {

    /** 1 MiB of bytes, 1000 elements (a dimension of 0 counted as 1). */
    private static final Limits LIMITS = new Limits(1 << 20, 1 << 20, 10, 100, 1000);

    @Test
    void anEmptyOutputWithAHugeDimensionIsRefusedByItsShape() {
        Tensor empty = new Tensor(DType.FLOAT32, new long[]{1, 0, 1_000_000_000}, ByteBuffer.allocate(0));
        OutputRefused e = assertThrows(OutputRefused.class, () -> roundTrip(List.of(empty)));
        assertEquals("The model's output of shape [1, 0, 1000000000] is too large: the server takes at most 1000"
                + " elements per request (a dimension of size 0 counted as 1).", e.getMessage());
    }

    @Test
    void smallEmptyOutputsPass() throws IOException {
        Tensor empty = new Tensor(DType.FLOAT32, new long[]{1, 0}, ByteBuffer.allocate(0));
        Tensor read = roundTrip(List.of(empty)).outputs().get(0);
        assertArrayEquals(new long[]{1, 0}, read.shape());
        assertEquals(0, read.numel());
    }

    @Test
    void theElementBoundHoldsPerTensorAndForTheWholeReply() throws IOException {
        Tensor full = Tensor.ofFloats(new long[]{10, 100}, new float[1000]);
        assertEquals(1000, roundTrip(List.of(full)).outputs().get(0).numel());
        Tensor over = Tensor.ofFloats(new long[]{1001}, new float[1001]);
        assertThrows(OutputRefused.class, () -> roundTrip(List.of(over)));
        Tensor half = Tensor.ofFloats(new long[]{2, 250}, new float[500]);
        assertEquals(2, roundTrip(List.of(half, half)).outputs().size());
        // each is within the bound, the three together are not; an empty one still counts its extent
        assertThrows(OutputRefused.class, () -> roundTrip(List.of(half, half,
                new Tensor(DType.FLOAT32, new long[]{0, 1}, ByteBuffer.allocate(0)))));
    }

    @Test
    void aShapeWhoseExtentOverflowsIsRefused() {
        long big = 1L << 40;
        Tensor empty = new Tensor(DType.UINT8, new long[]{0, big, big}, ByteBuffer.allocate(0));
        assertEquals(-1, WorkerProtocol.extent(empty.shape()));
        assertThrows(OutputRefused.class, () -> roundTrip(List.of(empty)));
    }

    @Test
    void moreThanSixtyFourDimensionsBreakTheProtocol() {
        long[] shape = new long[65];
        Arrays.fill(shape, 1);
        Tensor deep = Tensor.ofFloats(shape, new float[1]);
        ProtocolException e = assertThrows(ProtocolException.class, () -> roundTrip(List.of(deep)));
        assertFalse(e instanceof OutputRefused, "a broken frame, not a refused output");
    }

    @Test
    void bytesThatDisagreeWithTheShapeBreakTheProtocol() throws IOException {
        ByteArrayOutputStream pipe = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(pipe);
        out.writeInt(WorkerProtocol.REPLY);
        out.writeInt(200);
        out.writeInt(1);
        out.writeUTF("FLOAT32");
        out.writeInt(2);
        out.writeLong(1);
        out.writeLong(0);
        out.writeLong(4); // an empty tensor claiming four bytes
        out.write(new byte[4]);
        ProtocolException e = assertThrows(ProtocolException.class, () -> WorkerProtocol.readReply(
                new DataInputStream(new ByteArrayInputStream(pipe.toByteArray())), LIMITS));
        assertFalse(e instanceof OutputRefused);
    }

    private static Reply roundTrip(List<Tensor> outputs) throws IOException {
        ByteArrayOutputStream pipe = new ByteArrayOutputStream();
        WorkerProtocol.writeReply(new DataOutputStream(pipe), Reply.ok(outputs));
        return WorkerProtocol.readReply(new DataInputStream(new ByteArrayInputStream(pipe.toByteArray())), LIMITS);
    }
}
