package org.flserver.model;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A request body that a filter may end early ({@link UploadLimitFilter}, {@link FormLimitFilter}):
 * subclasses decide in {@link #read(byte[], int, int)}, and every other way of reading goes
 * through it, so no byte passes unseen.
 */
abstract class TruncatingStream extends FilterInputStream {

    TruncatingStream(InputStream in) {
        super(in);
    }

    @Override
    public abstract int read(byte[] buffer, int offset, int length) throws IOException;

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public long skip(long n) throws IOException {
        byte[] buffer = new byte[(int) Math.min(8192, Math.max(n, 1))];
        long skipped = 0;
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false; // a reset would show the same bytes twice
    }
}
