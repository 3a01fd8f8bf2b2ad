package org.flserver.tensor.pytorch;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The records of a ZIP archive exactly as the server's own ZIP reader ({@link ZipDirectory}) finds
 * them, for checks outside this package that apply a name policy of their own: the TorchScript code
 * check reads its code through this class, so that it reads the very records the rest of the server
 * validated, located by the rules that make every ZIP reader, libtorch's included, agree
 * (docs/pytorch-formats.md §a). A second ZIP reader (such as {@code java.util.zip.ZipFile}) could be
 * shown other records than libtorch by the same file.
 *
 * <p>Every structural check of {@link ZipDirectory} applies; names are not checked here (the caller
 * does, and names the offending record itself), so they may repeat.
 */
public final class ArchiveRecords implements AutoCloseable {

    private final FileChannel channel;
    private final List<ZipDirectory.Entry> entries;
    private final List<String> names;

    private ArchiveRecords(FileChannel channel, ZipDirectory zip) {
        this.channel = channel;
        this.entries = zip.entries();
        this.names = entries.stream().map(ZipDirectory.Entry::name).toList();
    }

    /**
     * Reads the archive's directory.
     *
     * @throws org.flserver.tensor.WeightFileException when its ZIP structure is refused
     * @throws IOException when it cannot be read
     */
    public static ArchiveRecords open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new ArchiveRecords(ch, ZipDirectory.readStructure(ch));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The full record names, in central-directory order. */
    public List<String> names() {
        return names;
    }

    /** The declared (uncompressed) size of record {@code index}. */
    public long size(int index) {
        return entries.get(index).size();
    }

    /**
     * The content of record {@code index}, refused when larger than {@code max} bytes or when its
     * compressed data does not inflate to exactly its declared size.
     */
    public byte[] content(int index, long max) throws IOException {
        return ZipDirectory.content(channel, entries.get(index), max);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
