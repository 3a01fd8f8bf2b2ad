package org.flserver.model;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.platform.ApiException;
import org.flserver.tensor.DurableMove;

/**
 * The content-addressed store of weights and other model files (design.md §4). A file lives at
 * {@code <data>/files/<first 2 hex>/<sha256>}, so equal uploads are kept once and a database row
 * only needs the hash.
 *
 * <p>Why it is written this way:
 * <ul>
 * <li>An upload is streamed to {@code <data>/tmp/} while its SHA-256 is computed: a file never
 *     passes through the heap whole, whatever its size.</li>
 * <li>The temp file is fsynced and then <em>renamed</em> into {@code files/} (atomic on one file
 *     system), and the directory is fsynced. A crash therefore leaves at most a stray temp file;
 *     {@code files/} never holds a partial file, and a name always matches its content.</li>
 * <li>Receiving and committing are two steps ({@link #receive} / {@link #commit}), so a request with
 *     several files can refuse all of them (e.g. the second is too large) before any is kept.</li>
 * <li>Files are never parsed or executed here; validating them as PyTorch files is the job of the
 *     tensor reader. Files are never deleted by a model delete either: clones share them, so
 *     files no row names any more are deleted by a collection of their own, a day after their last
 *     use ({@link UnreferencedFileCollection}); a commit of content already stored touches the file
 *     for it.</li>
 * <li>What a crash leaves in {@code tmp/} (a half-received upload, an aggregation's output or
 *     optimizer state that was never committed, each up to several model sizes) is deleted when
 *     the server first uses the store after a start, if it has not been written for {@code fl.tmp.max-idle-hours} (default 24): a
 *     server that crashed repeatedly would otherwise fill its disk with them. Only idle files go,
 *     because {@code tmp/} is shared with the other instances (design.md §7), whose uploads and
 *     jobs write their temp files continuously until they commit them.</li>
 * </ul>
 */
@ApplicationScoped
public class ModelFiles {

    private static final Logger LOG = Logger.getLogger(ModelFiles.class.getName());
    /** A stored file's name: the SHA-256 of its content in lower-case hex. */
    static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int BUFFER = 64 * 1024;

    @Inject
    @ConfigProperty(name = "fl.data.dir", defaultValue = "fl-data")
    String dataDirectory;

    @Inject
    @ConfigProperty(name = "fl.upload.max-bytes", defaultValue = "4294967296")
    long maxUploadBytes;

    @Inject
    @ConfigProperty(name = "fl.tmp.max-idle-hours", defaultValue = "24")
    long tmpMaxIdleHours;

    private Path files;
    private Path tmp;

    @PostConstruct
    void init() {
        Path root = Path.of(dataDirectory).toAbsolutePath();
        files = root.resolve("files");
        tmp = root.resolve("tmp");
        try {
            Files.createDirectories(files);
            Files.createDirectories(tmp);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + root, e);
        }
        int swept = sweepTemp(Instant.now().minus(Duration.ofHours(Math.max(1, tmpMaxIdleHours))));
        if (swept > 0) {
            LOG.info(() -> "deleted " + swept + " temp file(s) left in " + tmp + " by an earlier crash");
        }
        try {
            int restored = UnreferencedFiles.recover(files);
            if (restored > 0) {
                LOG.info(() -> "put back " + restored + " file(s) that a collection of unreferenced files had"
                        + " set aside when the server stopped");
            }
        } catch (IOException e) {
            LOG.warning(() -> "cannot look for files set aside by a collection of unreferenced files: " + e);
        }
    }

    /**
     * Deletes the regular files directly in {@code tmp/} last modified before {@code idleSince}
     * and returns how many. A file that cannot be read or deleted is left (it is only disk space);
     * anything else in {@code tmp/} (a directory, a link) is not the store's and is left too.
     */
    int sweepTemp(Instant idleSince) {
        int deleted = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(tmp)) {
            for (Path entry : entries) {
                try {
                    BasicFileAttributes a = Files.readAttributes(entry, BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS);
                    if (a.isRegularFile() && a.lastModifiedTime().toInstant().isBefore(idleSince)
                            && Files.deleteIfExists(entry)) {
                        deleted++;
                    }
                } catch (IOException e) {
                    LOG.warning(() -> "cannot delete the stale temp file " + entry + ": " + e);
                }
            }
        } catch (IOException e) {
            LOG.warning(() -> "cannot list " + tmp + " for stale temp files: " + e);
        }
        return deleted;
    }

    /** The largest file an upload may carry ({@code fl.upload.max-bytes}, default 4 GiB). */
    public long maxUploadBytes() {
        return maxUploadBytes;
    }

    /** Streams {@code in} into the store (receive and commit in one step). */
    public StoredFile store(InputStream in, long maxBytes) {
        try (ReceivedFile received = receive(in, maxBytes)) {
            return commit(received);
        }
    }

    /**
     * Streams {@code in} into a new temp file, hashing as it goes, and fsyncs it. More than
     * {@code maxBytes} bytes → 413 {@code {"detail": ...}} and the temp file is gone. The caller
     * must {@link #commit} or close the result.
     */
    public ReceivedFile receive(InputStream in, long maxBytes) {
        Path temp = tmp.resolve("upload-" + UUID.randomUUID() + ".part");
        MessageDigest sha = sha256();
        long size = 0;
        boolean done = false;
        try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] buffer = new byte[BUFFER];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                size += n;
                if (size > maxBytes) {
                    throw ApiException.detail(413, "The uploaded file is too large: at most " + maxBytes + " bytes.");
                }
                sha.update(buffer, 0, n);
                ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
                while (chunk.hasRemaining()) {
                    out.write(chunk);
                }
            }
            out.force(true);
            done = true;
        } catch (IOException e) {
            throw ApiException.badRequest("The uploaded file could not be read completely.");
        } finally {
            if (!done) {
                deleteQuietly(temp);
            }
        }
        return new ReceivedFile(temp, HexFormat.of().formatHex(sha.digest()), size);
    }

    /**
     * Moves a received file to its content address. If a file with that hash is already stored,
     * the temp file is simply dropped (dedupe): same name, same bytes.
     */
    public StoredFile commit(ReceivedFile received) {
        Path target = path(received.sha256());
        try {
            if (!Files.isDirectory(target.getParent())) {
                Files.createDirectories(target.getParent());
                DurableMove.flushDirectory(files); // the new subfolder's entry, or the file below could vanish with it
            }
            if (Files.exists(target) && touched(target)) {
                deleteQuietly(received.temp());
            } else {
                try {
                    Files.move(received.temp(), target, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException raced) {
                    deleteQuietly(received.temp());
                }
            }
            // The rename made durable; also when the file was already there: a concurrent commit of the
            // same content may have renamed it and not flushed yet, and the caller's database row is
            // about to name it.
            DurableMove.flushDirectory(target.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store " + received.sha256(), e);
        }
        received.committed = true;
        return new StoredFile(received.sha256(), received.size());
    }

    /**
     * Sets a stored file's modification time to now, so that the collection of unreferenced files
     * leaves it alone while the caller's row, about to name it, is not yet committed
     * ({@link UnreferencedFiles}); false when the file is gone (that collection took it just now) or
     * cannot be touched, and the caller's copy is to be moved in instead.
     */
    private static boolean touched(Path target) {
        try {
            Files.setLastModifiedTime(target, FileTime.from(Instant.now()));
            return true;
        } catch (IOException goneOrNotOurs) {
            // gone: the collection took it just now; or another instance's user wrote it: either
            // way the caller's fresh copy is moved in
            return false;
        }
    }

    /** The store's {@code files/} folder, for the collection of unreferenced files ({@link UnreferencedFiles}). */
    public Path filesDirectory() {
        return files;
    }

    /** Where the file with this hash lives (it may not exist). Only well-formed hashes are accepted. */
    public Path path(String sha256) {
        if (sha256 == null || !SHA256.matcher(sha256).matches()) {
            throw new IllegalArgumentException("not a SHA-256 hex string: " + sha256);
        }
        return files.resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    public boolean exists(String sha256) {
        return Files.isRegularFile(path(sha256));
    }

    /** Opens a stored file for streaming reads; the caller closes it. */
    public InputStream open(String sha256) {
        try {
            return Files.newInputStream(path(sha256));
        } catch (IOException e) {
            throw new UncheckedIOException("stored file " + sha256 + " cannot be read", e);
        }
    }

    /** A fresh path in the store's temp folder for a file the server writes itself (aggregation output). */
    public Path newTempFile(String prefix) {
        return tmp.resolve(prefix + "-" + UUID.randomUUID() + ".part");
    }

    /**
     * Stores a file the server wrote into {@link #newTempFile}: hashed by streaming it once, fsynced,
     * and moved to its content address like an upload. Writing the same content twice (a job run
     * again after a crash) yields the same stored file.
     *
     * <p>The file is made readable by group and others first, as uploads are under the usual umask:
     * writers of atomic outputs (the aggregation's) create their temp files readable by their owner
     * only, and the inference sandbox reads model files as another, unprivileged user.
     */
    public StoredFile commitFile(Path temp) {
        MessageDigest sha = sha256();
        long size = 0;
        try (FileChannel in = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            readableByAll(temp);
            ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
            int n;
            while ((n = in.read(buffer)) >= 0) {
                buffer.flip();
                sha.update(buffer);
                buffer.clear();
                size += n;
            }
            in.force(true);
        } catch (IOException e) {
            deleteQuietly(temp);
            throw new UncheckedIOException("cannot read back " + temp.getFileName(), e);
        }
        return commit(new ReceivedFile(temp, HexFormat.of().formatHex(sha.digest()), size));
    }

    /**
     * Makes a stored file readable by group and others: the inference sandbox's workers run as
     * another, unprivileged user and read the model files of this store.
     */
    public static void readableByAll(Path file) throws IOException {
        if (!file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return;
        }
        Set<PosixFilePermission> permissions = EnumSet.copyOf(Files.getPosixFilePermissions(file));
        permissions.add(PosixFilePermission.GROUP_READ);
        permissions.add(PosixFilePermission.OTHERS_READ);
        Files.setPosixFilePermissions(file, permissions);
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a stray temp file is harmless (tmp/ holds nothing the server reads back)
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * An upload received into a temp file but not yet stored. Closing it without {@link #commit}
     * deletes the temp file, so try-with-resources leaves nothing behind on a refusal.
     */
    public static final class ReceivedFile implements AutoCloseable {
        private final Path temp;
        private final String sha256;
        private final long size;
        private boolean committed;

        ReceivedFile(Path temp, String sha256, long size) {
            this.temp = temp;
            this.sha256 = sha256;
            this.size = size;
        }

        Path temp() {
            return temp;
        }

        public String sha256() {
            return sha256;
        }

        public long size() {
            return size;
        }

        @Override
        public void close() {
            if (!committed) {
                deleteQuietly(temp);
            }
        }
    }
}
