package org.flserver.model;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.ext.Provider;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.flserver.platform.ApiException;

/**
 * Bounds the body of an upload request <em>before</em> the runtime reads it. The multipart reader
 * spools a whole request to disk before the resource sees any part, so without this a client could
 * fill the disk with one request long before {@link ModelFiles} counts the bytes of a file.
 *
 * <p>The limit is {@code fl.upload.max-bytes} plus 1 MiB for the form fields and part headers.
 * A declared {@code Content-Length} above it is refused at once (413, nothing read). A body
 * without one (chunked) is cut off at the limit: the runtime sees the body end there, its
 * multipart parse fails and cleans up after itself, and the answer is turned into the 413 here.
 */
@Provider
@BoundedUpload
@Priority(Priorities.USER)
public class UploadLimitFilter implements ContainerRequestFilter, ContainerResponseFilter {

    static final long FIELD_ALLOWANCE = 1 << 20;
    private static final String LIMITED = UploadLimitFilter.class.getName() + ".stream";

    @Inject
    ModelFiles files;

    @Override
    public void filter(ContainerRequestContext request) {
        long limit = limit();
        String declared = request.getHeaderString("Content-Length");
        if (declared != null) {
            long length;
            try {
                length = Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                length = -1;
            }
            if (length > limit) {
                request.abortWith(tooLarge(limit).toResponse());
                return;
            }
        }
        Limited limited = new Limited(request.getEntityStream(), limit);
        request.setProperty(LIMITED, limited);
        request.setEntityStream(limited);
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        if (request.getProperty(LIMITED) instanceof Limited limited && limited.overflowed) {
            ApiException refusal = tooLarge(limited.limit);
            response.setStatus(refusal.status());
            response.getHeaders().putSingle("Content-Type", "application/json");
            response.setEntity(refusal.body().toString());
        }
    }

    private long limit() {
        return files.maxUploadBytes() + FIELD_ALLOWANCE;
    }

    private static ApiException tooLarge(long limit) {
        return ApiException.detail(413, "The upload is too large: at most " + limit
                + " bytes per request (files and form fields).");
    }

    /** Lets the runtime read up to the limit, then reports the end of the body. */
    private static final class Limited extends FilterInputStream {
        private final long limit;
        private long count;
        private boolean overflowed;

        Limited(InputStream in, long limit) {
            super(in);
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (overflowed) {
                return -1;
            }
            int n = super.read(buffer, offset, (int) Math.min(length, limit + 1 - count));
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
