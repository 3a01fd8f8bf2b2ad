package org.flserver.model;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The bounds of one multipart request besides its size ({@code fl.upload.max-bytes}): how many
 * parts it may have, how large one text field (a part without a file name) may be, and how large
 * all its text fields together. Text fields end up in memory ({@link UploadForm}) and every part
 * costs the multipart parser a buffer, so these bound what a request can make the server hold;
 * files stream to disk and only count as parts. {@link FormLimitFilter} enforces them while the
 * body streams in.
 *
 * <p>Defaults: 100 parts (a model upload has about ten; each metric sent with a local update or
 * as a multipart report takes two, so larger metric reports go url-encoded); 64 KiB for one field,
 * the largest description the API accepted before; 1 MiB for all text fields together.
 */
@ApplicationScoped
public class FormLimits {

    @Inject
    @ConfigProperty(name = "fl.upload.max-parts", defaultValue = "100")
    int maxParts;

    @Inject
    @ConfigProperty(name = "fl.upload.max-field-bytes", defaultValue = "65536")
    long maxFieldBytes;

    @Inject
    @ConfigProperty(name = "fl.upload.max-fields-total-bytes", defaultValue = "1048576")
    long maxFieldsTotalBytes;

    protected FormLimits() {
        // for CDI
    }

    FormLimits(int maxParts, long maxFieldBytes, long maxFieldsTotalBytes) {
        this.maxParts = maxParts;
        this.maxFieldBytes = maxFieldBytes;
        this.maxFieldsTotalBytes = maxFieldsTotalBytes;
    }

    public int maxParts() {
        return maxParts;
    }

    public long maxFieldBytes() {
        return maxFieldBytes;
    }

    public long maxFieldsTotalBytes() {
        return maxFieldsTotalBytes;
    }
}
