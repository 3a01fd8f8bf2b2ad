package org.flserver.inference.sandbox;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.flserver.inference.worker.WorkerProtocol;
import org.flserver.inference.worker.WorkerProtocol.Limits;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;

/**
 * One running inference worker: its process, the pipes of the protocol, and the last lines it wrote
 * to standard error (kept for the log, never shown to clients). A worker serves one caller's
 * requests for one set of modules, one request at a time; {@link #kill} ends it at once
 * (bubblewrap's {@code --die-with-parent} takes the JVM inside with it).
 */
final class WorkerProcess {

    private static final Logger LOG = Logger.getLogger(WorkerProcess.class.getName());

    /** How much of standard error is kept. */
    private static final int TAIL_BYTES = 8 << 10;

    /** Why a worker was killed, which decides what its caller is told. */
    enum KillReason { DEADLINE, CANCELLED, EVICTED, CLOSED, BROKEN }

    final WorkerPool.Key key;
    private final Process process;
    private final DataOutputStream toWorker;
    private final DataInputStream fromWorker;
    private final byte[] tail = new byte[TAIL_BYTES]; // guarded by tail
    private long tailWritten; // guarded by tail
    private final AtomicReference<KillReason> killed = new AtomicReference<>();
    private String description;
    private long idleSince;

    private WorkerProcess(WorkerPool.Key key, Process process, ThreadFactory threads) {
        this.key = key;
        this.process = process;
        this.toWorker = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
        this.fromWorker = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
        Thread drain = threads.newThread(this::drainErrors);
        drain.setName("inference-worker-stderr-" + process.pid());
        drain.setDaemon(true);
        drain.start();
    }

    /** Starts a worker; {@link #awaitReady} must follow. */
    static WorkerProcess start(WorkerPool.Key key, ProcessBuilder command, ThreadFactory threads) throws IOException {
        return new WorkerProcess(key, command.start(), threads);
    }

    /** Waits for the worker's announcement (the caller bounds the wait by killing it). */
    void awaitReady() throws IOException {
        description = WorkerProtocol.readReady(fromWorker);
    }

    /** Sends one request and reads its reply. */
    Reply call(Request request, Limits limits) throws IOException {
        WorkerProtocol.writeRequest(toWorker, request);
        return WorkerProtocol.readReply(fromWorker, limits);
    }

    /** Ends the worker now; the first reason given is the one that counts. */
    void kill(KillReason reason) {
        killed.compareAndSet(null, reason);
        process.destroyForcibly();
    }

    /** Why the worker was killed, or null if it was not (it may still have died by itself). */
    KillReason killReason() {
        return killed.get();
    }

    boolean alive() {
        return killed.get() == null && process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    String description() {
        return description;
    }

    long idleSince() {
        return idleSince;
    }

    void markIdle(long nanos) {
        idleSince = nanos;
    }

    /** Waits up to {@code wait} for the process to end (after a kill: to log its exit status). */
    void awaitExit(java.time.Duration wait) {
        try {
            process.waitFor(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The exit status when the process has ended, else null. */
    Integer exitStatus() {
        return process.isAlive() ? null : process.exitValue();
    }

    /** The last bytes the worker wrote to standard error, as text. */
    String errorTail() {
        synchronized (tail) {
            int n = (int) Math.min(tailWritten, TAIL_BYTES);
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = tail[(int) ((tailWritten - n + i) % TAIL_BYTES)];
            }
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    /** Reads standard error until the worker ends, keeping only the tail: a model may print without end. */
    private void drainErrors() {
        byte[] buffer = new byte[4096];
        try (InputStream err = process.getErrorStream()) {
            for (int n; (n = err.read(buffer)) > 0; ) {
                synchronized (tail) {
                    for (int i = 0; i < n; i++) {
                        tail[(int) (tailWritten++ % TAIL_BYTES)] = buffer[i];
                    }
                }
            }
        } catch (IOException e) {
            LOG.log(Level.FINEST, "worker stderr closed", e);
        }
    }
}
