package org.flserver.model;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.ext.Provider;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import org.flserver.platform.ApiException;

/**
 * Enforces {@link FormLimits} on multipart uploads while the body streams in. The runtime parses
 * a whole multipart body into parts before the resource sees any of them, so a count or a size
 * checked afterwards comes too late: 200,000 empty fields had exhausted the heap by then. Here
 * the body passes through a {@link FormScanner} on its way to the parser; at the first byte that
 * crosses a bound the stream ends, the parser fails on the truncated body (and cleans up what it
 * spooled, as for {@link UploadLimitFilter}'s cut), and the failure is answered with 413 and the
 * bound in {@code {"detail": ...}}.
 *
 * <p>What follows the cut is never parsed: it is read and discarded so that a client still
 * sending sees the answer rather than a reset (up to 64 MiB, as the other size filters do), or,
 * beyond that, the connection is closed. Runs before {@link UploadLimitFilter}, whose count then
 * stops at the cut, so each refusal names the bound that was crossed first.
 */
@Provider
@BoundedUpload
@Priority(Priorities.USER - 1)
public class FormLimitFilter implements ContainerRequestFilter, ContainerResponseFilter {

    private static final String SCANNED = FormLimitFilter.class.getName() + ".stream";
    /** Largest rest of a refused body that is read and discarded so that the client sees the 413. */
    private static final long DRAIN_LIMIT = 64L << 20;

    @Inject
    FormLimits limits;

    @Inject
    ModelFiles files;

    @Context
    ResourceInfo resource;

    @Override
    public void filter(ContainerRequestContext request) {
        MediaType type = request.getMediaType();
        String boundary = type == null ? null : type.getParameters().get("boundary");
        if (!"multipart".equalsIgnoreCase(type == null ? null : type.getType()) || boundary == null
                || boundary.isEmpty()) {
            return; // not multipart (415 follows) or no boundary (the parser refuses it at once)
        }
        long declared = UploadLimitFilter.declaredLength(request);
        if (declared > files.maxUploadBytes()) {
            return; // refused unread by UploadLimitFilter
        }
        BoundedUpload bounded = resource.getResourceMethod().getAnnotation(BoundedUpload.class);
        Set<String> large = bounded == null ? Set.of() : Set.of(bounded.largeFields());
        Scanned scanned = new Scanned(request.getEntityStream(), new FormScanner(boundary, limits, large), declared);
        request.setProperty(SCANNED, scanned);
        request.setEntityStream(scanned);
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        if (!(request.getProperty(SCANNED) instanceof Scanned scanned) || scanned.scanner.violation() == null
                || response.getStatus() < 400) {
            return;
        }
        ApiException refusal = ApiException.detail(413, scanned.scanner.violation());
        response.setStatus(refusal.status());
        response.getHeaders().putSingle("Content-Type", "application/json");
        response.setEntity(refusal.body().toString());
        if (!scanned.drainRest()) {
            response.getHeaders().putSingle("Connection", "close");
        }
    }

    /** Passes the body through the scanner and ends it at the first byte that crosses a bound. */
    private static final class Scanned extends TruncatingStream {
        private final FormScanner scanner;
        private final long declared;
        private long count;

        Scanned(InputStream in, FormScanner scanner, long declared) {
            super(in);
            this.scanner = scanner;
            this.declared = declared;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (scanner.violation() != null) {
                return -1;
            }
            int n = in.read(buffer, offset, length);
            if (n <= 0) {
                return n;
            }
            count += n;
            int accepted = scanner.feed(buffer, offset, n);
            if (accepted < n) {
                // the bytes before the crossing one still go to the parser; the next read ends the body
                return accepted == 0 ? -1 : accepted;
            }
            return n;
        }

        /** Reads and discards the rest of the body after a cut; false when it is too long or broken. */
        boolean drainRest() {
            try {
                if (declared >= 0) {
                    long rest = declared - count;
                    if (rest > DRAIN_LIMIT) {
                        return false;
                    }
                    in.skipNBytes(rest);
                    return true;
                }
                byte[] buffer = new byte[8192];
                long drained = 0;
                while (drained <= DRAIN_LIMIT) {
                    int n = in.read(buffer);
                    if (n < 0) {
                        return true;
                    }
                    drained += n;
                }
                return false;
            } catch (IOException e) {
                return false;
            }
        }
    }
}
