package org.flserver.model;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.Provider;
import java.io.IOException;
import java.io.InputStream;
import org.flserver.platform.ApiException;

/**
 * Bounds the body of an upload request to {@code fl.upload.max-bytes} <em>before</em> the runtime
 * reads it. The multipart reader spools a whole request to disk before the resource sees any part,
 * so without this one request could fill the disk long before {@link ModelFiles} counts the bytes
 * of a file. ({@link org.flserver.platform.RequestSizeLimit} bounds every other body.)
 *
 * <ul>
 * <li>A declared {@code Content-Length} above the limit is refused with 413 before anything is
 *     stored. A moderate excess is read and discarded first, as RequestSizeLimit does, because a
 *     client still sending would otherwise see a reset instead of the answer; a huge one is
 *     answered at once and the connection closed.</li>
 * <li>A body without a declared length (chunked) is cut off at the limit: the runtime sees it end
 *     there, its multipart parse fails and cleans up its spool files (throwing from the stream
 *     instead left a spool file behind until the JVM exits), and the failure is answered with the
 *     same 413.</li>
 * </ul>
 */
@Provider
@BoundedUpload
@Priority(Priorities.USER)
public class UploadLimitFilter implements ContainerRequestFilter, ContainerResponseFilter {

    private static final String LIMITED = UploadLimitFilter.class.getName() + ".stream";
    /** Largest excess over the limit that is read and discarded so that the client sees the 413. */
    private static final long DRAIN_LIMIT = 64L << 20;

    @Inject
    ModelFiles files;

    @Override
    public void filter(ContainerRequestContext request) {
        long limit = files.maxUploadBytes();
        long declared = declaredLength(request);
        if (declared > limit) {
            Response.ResponseBuilder answer = Response.fromResponse(tooLarge(limit).toResponse());
            if (!(declared - limit <= DRAIN_LIMIT && drained(request.getEntityStream(), declared))) {
                answer.header("Connection", "close");
            }
            request.abortWith(answer.build());
            return;
        }
        if (declared < 0) {
            Limited limited = new Limited(request.getEntityStream(), limit);
            request.setProperty(LIMITED, limited);
            request.setEntityStream(limited);
        }
    }

    /**
     * The declared length, or -1 when there is none. Parsed here because the runtime's
     * {@code getLength()} is an int and fails on lengths over 2 GiB — exactly the ones to refuse.
     */
    static long declaredLength(ContainerRequestContext request) {
        String header = request.getHeaderString("Content-Length");
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1; // not a length: the body is counted as it is read
        }
    }

    private static boolean drained(InputStream body, long length) {
        try {
            body.skipNBytes(length);
            return true;
        } catch (IOException shorterThanDeclaredOrBroken) {
            return false;
        }
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        // Only a failed request is re-labelled: a form that was complete before the cut (junk after
        // its closing boundary) was stored, and its answer must say so.
        if (request.getProperty(LIMITED) instanceof Limited limited && limited.overflowed
                && response.getStatus() >= 400) {
            ApiException refusal = tooLarge(limited.limit);
            response.setStatus(refusal.status());
            response.getHeaders().putSingle("Content-Type", "application/json");
            response.setEntity(refusal.body().toString());
        }
    }

    /** Worded as {@link org.flserver.platform.RequestSizeLimit} words it for other bodies. */
    private static ApiException tooLarge(long limit) {
        return ApiException.detail(413, "Request body too large: at most " + limit + " bytes.");
    }

    /** Lets the runtime read up to the limit, then reports the end of the body. */
    private static final class Limited extends TruncatingStream {
        private final long limit;
        private long count;
        private boolean overflowed;

        Limited(InputStream in, long limit) {
            super(in);
            this.limit = limit;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (overflowed) {
                return -1;
            }
            int n = in.read(buffer, offset, (int) Math.min(length, limit + 1 - count));
            if (n > 0) {
                count += n;
                if (count > limit) {
                    overflowed = true;
                    return -1;
                }
            }
            return n;
        }
    }
}
