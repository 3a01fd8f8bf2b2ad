package org.flserver.tensor.pytorch;

import org.flserver.tensor.TorchTestFiles;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pickles a security review found to exhaust the reader (a small upload that made the JVM run
 * out of memory, or kept a request thread busy for hours), rebuilt here at the reviewer's sizes at
 * run time (they are megabytes; the small cases are committed, see HostileFilesTest). Each must be
 * refused with a one-line {@link WeightFileException} naming the bound (docs/pytorch-formats.md §d).
 *
 * <p>That the memory cases are refused before the big allocation is checked without timing: the
 * bytes the reading thread allocated (HotSpot's per-thread counter) stay within a small multiple of
 * the interpreter's heap budget, where the unbounded reader allocated gigabytes (or ran out of heap).
 */
class SymbolicPickleBudgetsTest {

    /** What reading one refused file may allocate: the budget, transient buffers, the pickle bytes. */
    private static final long ALLOCATION_BOUND = 3 * SymbolicPickle.MAX_HEAP_BYTES;

    @TempDir
    Path tmp;

    @Test
    void codecsEncodeOfOneLargeStringKeptAThousandTimesIsRefused() throws IOException {
        // an 8 MB memoised string, then _codecs.encode(s, 'latin1') 1000 times, every result kept
        Pickle p = new Pickle().proto().str("a".repeat(8 << 20)).binput(0).pop()
                .global("_codecs", "encode").binput(1).pop().str("latin1").binput(2).pop().mark();
        for (int i = 0; i < 1000; i++) {
            p.binget(1).binget(0).binget(2).op(TUPLE2).op(REDUCE);
        }
        p.op(TUPLE).op(STOP);
        assertRefusedWithin(p, "MiB of memory to read");
    }

    @Test
    void nearlyTenMillionMemoEntriesAreRefused() throws IOException {
        Pickle p = new Pickle().proto().op(EMPTY_DICT);
        for (int i = 0; i < 9_900_000; i++) {
            p.op(MEMOIZE);
        }
        assertRefusedWithin(p.op(STOP), "memo exceeds " + SymbolicPickle.MAX_MEMO + " entries");
    }

    @Test
    void dictsNestedUnderOneLargeKeyAreRefused() throws IOException {
        // 300 nested dicts, each keyed by the same memoised 4 MB string: names of k x 4 MB
        Pickle p = new Pickle().proto().str("k".repeat(4 << 20)).binput(0).pop().op(EMPTY_DICT).binput(1);
        for (int i = 0; i < 300; i++) {
            p.binget(0).op(EMPTY_DICT).binput(2 + i).op(SETITEM).pop().binget(2 + i);
        }
        p.pop().binget(1).op(STOP);
        assertRefusedWithin(p, "pickle dict key of " + (4 << 20) + " characters (at most 4096)");
    }

    @Test
    void threeQuarterMillionEmptyTensorsAreRefused() throws IOException {
        Pickle p = new Pickle().proto().global("torch._utils", "_rebuild_tensor_v2").binput(0).pop()
                .mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(0).op(TUPLE)
                .op(BINPERSID).binput(1).pop()
                .mark();
        for (int i = 0; i < 32; i++) {
            p.int1(0);
        }
        p.op(TUPLE).binput(2).pop().global("collections", "OrderedDict").op(EMPTY_TUPLE).op(REDUCE).binput(3).pop()
                .op(EMPTY_DICT);
        for (int i = 0; i < 750_000; i++) {
            p.int4(i).binget(0).mark().binget(1).int1(0).binget(2).binget(2).op(NEWFALSE).binget(3).op(TUPLE)
                    .op(REDUCE).op(SETITEM);
        }
        assertRefusedWithin(p.op(STOP), "pickle has more than " + SymbolicPickle.MAX_TENSORS + " tensors");
    }

    @Test
    void repeatedSetCopiesOfALargeListAreRefused() throws IOException {
        // set(l) of one memoised 500,000-item list, 1000 times, every copy kept
        Pickle p = new Pickle().proto().op(EMPTY_LIST).mark();
        for (int i = 0; i < 500_000; i++) {
            p.int1(i & 0x7F);
        }
        p.op(APPENDS).binput(0).pop().global("builtins", "set").binput(1).pop().mark();
        for (int i = 0; i < 1000; i++) {
            p.binget(1).binget(0).op(TUPLE1).op(REDUCE);
        }
        p.op(TUPLE).op(STOP);
        assertRefusedWithin(p, "steps to read");
    }

    @Test
    void digestingOneLargeStringAMillionTimesOverIsRefused() throws IOException {
        // {'k': [s, s, s, ...]}: a million references to one memoised 8 MB string
        Pickle p = new Pickle().proto().op(EMPTY_DICT).str("k").op(EMPTY_LIST)
                .str("a".repeat(8 << 20)).binput(0).pop();
        for (int batch = 0; batch < 2; batch++) {
            p.mark();
            for (int i = 0; i < 500_000; i++) {
                p.binget(0);
            }
            p.op(APPENDS);
        }
        p.op(SETITEM).op(STOP);
        assertRefusedWithin(p, "pickled object graph is too large to walk");
    }

    @Test
    void repeatedBuildOfALargeStateIsRefused() throws IOException {
        // an object whose 400,000-entry state dict is merged into itself by BUILD a hundred times
        Pickle p = new Pickle().proto().global("__main__", "Net").op(EMPTY_TUPLE).op(NEWOBJ)
                .op(EMPTY_DICT).binput(0).mark();
        for (int i = 0; i < 400_000; i++) {
            p.int4(i).op(NONE);
        }
        p.op(SETITEMS).op(BUILD);
        for (int i = 0; i < 100; i++) {
            p.binget(0).op(BUILD);
        }
        assertRefusedWithin(p.op(STOP), "steps to read");
    }

    @Test
    void oneTensorNamedMoreThanAHundredThousandTimesIsRefused() throws IOException {
        Pickle p = tensorDict().str("l").op(EMPTY_LIST);
        for (int batch = 0; batch < 3; batch++) {
            p.mark();
            for (int i = 0; i < 40_000; i++) {
                p.binget(9);
            }
            p.op(APPENDS);
        }
        p.op(SETITEM).op(STOP);
        assertRefusedWithin(p, "named more than " + ObjectTree.MAX_ALIASES + " times over");
    }

    @Test
    void longNamesTogetherAreRefused() throws IOException {
        // {'t': t, K: {K: [t, t, ...]}} with a 4000-character K: 5000 names of about 8000 characters
        String key = "k".repeat(4000);
        Pickle p = tensorDict().str(key).binput(10).op(EMPTY_DICT).binget(10).op(EMPTY_LIST).mark();
        for (int i = 0; i < 5000; i++) {
            p.binget(9);
        }
        p.op(APPENDS).op(SETITEM).op(SETITEM).op(STOP);
        assertRefusedWithin(p, "tensor names together exceed " + ObjectTree.MAX_NAMES_TOTAL_CHARS + " characters");
    }

    /** {@code {'t': tensor}} left open on the stack, the tensor in memo slot 9, over storage "0" of 0 bytes. */
    private static Pickle tensorDict() {
        return new Pickle().proto().op(EMPTY_DICT).str("t").global("torch._utils", "_rebuild_tensor_v2")
                .mark().mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(0).op(TUPLE)
                .op(BINPERSID).int1(0).mark().int1(0).op(TUPLE).mark().int1(1).op(TUPLE).op(NEWFALSE)
                .global("collections", "OrderedDict").op(EMPTY_TUPLE).op(REDUCE).op(TUPLE).op(REDUCE)
                .binput(9).op(SETITEM);
    }

    private void assertRefusedWithin(Pickle pickle, String reason) throws IOException {
        Path file = tmp.resolve("bomb.pt");
        Files.write(file, TorchTestFiles.archive(pickle.bytes(), new byte[0])); // storage 0 holds no bytes
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFiles.open(file));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(e.getMessage().contains(reason), "message '" + e.getMessage() + "' should say '" + reason + "'");
        assertEquals(1, e.getMessage().lines().count(), "one line");
        assertTrue(allocated < ALLOCATION_BOUND + 2 * Files.size(file),
                "reading allocated " + (allocated >> 20) + " MiB before refusing");
    }

    private static final int MARK = '(', STOP = '.', POP = '0', TUPLE = 't', TUPLE1 = 0x85, TUPLE2 = 0x86,
            EMPTY_TUPLE = ')', EMPTY_DICT = '}', EMPTY_LIST = ']', APPENDS = 'e', SETITEM = 's', SETITEMS = 'u',
            MEMOIZE = 0x94, REDUCE = 'R', NEWOBJ = 0x81, BUILD = 'b', BINPERSID = 'Q', NEWFALSE = 0x89, NONE = 'N';

    /** Writes pickle opcodes (protocol 2, plus MEMOIZE). */
    private static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int opcode) {
            out.write(opcode);
            return this;
        }

        Pickle proto() {
            return op(0x80).op(2);
        }

        Pickle mark() {
            return op(MARK);
        }

        Pickle pop() {
            return op(POP);
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X').le32(b.length);
            out.writeBytes(b);
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Pickle int1(int v) {
            return op('K').op(v);
        }

        Pickle int4(int v) {
            return op('J').le32(v);
        }

        Pickle binput(int slot) {
            return op('r').le32(slot);
        }

        Pickle binget(int slot) {
            return op('j').le32(slot);
        }

        private Pickle le32(int v) {
            for (int i = 0; i < 4; i++) {
                out.write(v >>> (8 * i));
            }
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
