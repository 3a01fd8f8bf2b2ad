package org.flserver.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import org.flserver.platform.FormBodies;

/**
 * Follows the framing of a {@code multipart/form-data} body byte by byte as it streams past, and
 * says at which byte the body crosses one of the request bounds ({@link FormLimits}): too many
 * parts, a text field or all text fields together too large, or a part's headers too long.
 * Nothing is kept but counters and the current part's headers, so the bounds are checked before
 * the runtime's multipart parser has spent memory on what lies beyond them.
 *
 * <p>It recognises delimiters as the runtime's parser (MIMEPull) does, which is more lenient than
 * RFC 2046: a first delimiter anywhere in the preamble, later ones at the start of a line after a
 * CR, an LF or both, each followed by optional blanks and LF or CRLF (or {@code --}: the end).
 * Where the two could differ, this scanner errs towards seeing a delimiter, so it never counts
 * fewer parts than the parser makes. A part is a file when its {@code Content-Disposition} has a
 * {@code filename} (or {@code filename*}) parameter, as for {@link UploadForm}; every other part
 * is a text field, except the names a route declares as large values
 * ({@link BoundedUpload#largeFields()}), which are bounded by that route.
 */
final class FormScanner {

    /** Longest preamble and longest header block of one part. Clients send a few hundred bytes. */
    static final int MAX_HEADER_BYTES = 16 * 1024;

    private enum State { PREAMBLE, HEADERS, BODY, DELIMITER_LINE, DONE }

    private final byte[] delimiter; // "--" + boundary
    private final int maxParts;
    private final long maxFieldBytes;
    private final long maxFieldsTotalBytes;
    private final Set<String> largeFields;

    private State state = State.PREAMBLE;
    private String violation;

    private final byte[] preamble = new byte[MAX_HEADER_BYTES];
    private int preambleLength;

    // headers of the current part
    private final ByteArrayOutputStream headers = new ByteArrayOutputStream();
    private int lineLength;
    private int lineLast;

    // current part
    private int parts;
    private boolean text;
    private String name;
    private long partBytes;
    private int matched;      // bytes of the delimiter matched so far
    private long matchStart;  // partBytes when the pending delimiter match began
    private int eolBefore;    // CR/LF bytes right before the pending match (they belong to the delimiter)
    private int previous = '\n';
    private int beforePrevious = -1;
    private long textBytes;

    // after a delimiter inside a body
    private int lineBytes;
    private boolean lineCr;
    private int lastLineByte;

    FormScanner(String boundary, FormLimits limits, Set<String> largeFields) {
        // MIMEPull takes the boundary's chars as bytes, one each
        this.delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        this.maxParts = limits.maxParts();
        this.maxFieldBytes = limits.maxFieldBytes();
        this.maxFieldsTotalBytes = limits.maxFieldsTotalBytes();
        this.largeFields = largeFields;
    }

    /** The detail of the bound crossed, or null. */
    String violation() {
        return violation;
    }

    /** Parts begun so far. */
    int parts() {
        return parts;
    }

    /**
     * Scans {@code length} bytes; returns how many of them lie before the byte that crossed a
     * bound ({@code length} when none did). Once a bound is crossed nothing more is accepted.
     */
    int feed(byte[] bytes, int offset, int length) {
        if (violation != null) {
            return 0;
        }
        int i = 0;
        while (i < length) {
            if (state == State.DONE) {
                return length;
            }
            if (state == State.BODY && !text && matched == 0 && previous != '\n' && previous != '\r') {
                // inside a line of a file: only a line break can lead to a delimiter, so skip to it
                int j = i;
                while (j < length && bytes[offset + j] != '\n' && bytes[offset + j] != '\r') {
                    j++;
                }
                if (j > i) {
                    partBytes += j - i;
                    beforePrevious = j - i >= 2 ? bytes[offset + j - 2] & 0xff : previous;
                    previous = bytes[offset + j - 1] & 0xff;
                    i = j;
                    continue;
                }
            }
            step(bytes[offset + i] & 0xff);
            if (violation != null) {
                return i;
            }
            i++;
        }
        return length;
    }

    private void step(int b) {
        switch (state) {
            case PREAMBLE -> preamble(b);
            case HEADERS -> header(b);
            case BODY -> body(b);
            case DELIMITER_LINE -> delimiterLine(b);
            default -> {
            }
        }
    }

    // --- preamble: the first delimiter may stand anywhere, followed by blanks and (CR)LF

    private void preamble(int b) {
        if (preambleLength == MAX_HEADER_BYTES) {
            violation = "The multipart preamble is too long: at most " + MAX_HEADER_BYTES + " bytes.";
            return;
        }
        preamble[preambleLength++] = (byte) b;
        // The first delimiter line the parser accepts is the one that ends at the earliest LF
        // (two such lines cannot share an LF: only blanks and a CR stand between delimiter and LF).
        if (b == '\n' && endsWithDelimiterLine(preamble, preambleLength)) {
            startPart();
        }
    }

    /** Whether the bytes end with the delimiter, blanks, an optional CR and the LF. */
    private boolean endsWithDelimiterLine(byte[] seen, int length) {
        int end = length - 1; // the LF
        if (end > 0 && seen[end - 1] == '\r') {
            end--;
        }
        // the delimiter ends somewhere in the run of blanks before the line break (a boundary may
        // itself end in a blank), so try each place
        for (int last = end - 1; last >= delimiter.length - 1; last--) {
            if (endsAt(seen, last)) {
                return true;
            }
            if (seen[last] != ' ' && seen[last] != '\t') {
                return false;
            }
        }
        return false;
    }

    private boolean endsAt(byte[] seen, int last) {
        for (int i = 0; i < delimiter.length; i++) {
            if (seen[last - delimiter.length + 1 + i] != delimiter[i]) {
                return false;
            }
        }
        return true;
    }

    // --- a part: headers up to an empty line, then the body up to the next delimiter

    private void startPart() {
        parts++;
        if (parts > maxParts) {
            violation = "Too many form parts: at most " + maxParts + " per request.";
            return;
        }
        state = State.HEADERS;
        headers.reset();
        lineLength = 0;
    }

    private void header(int b) {
        if (headers.size() >= MAX_HEADER_BYTES) {
            violation = "The headers of a form part are too long: at most " + MAX_HEADER_BYTES + " bytes.";
            return;
        }
        headers.write(b);
        if (b != '\n') {
            lineLength++;
            lineLast = b;
            return;
        }
        if (lineLength == 0 || lineLength == 1 && lineLast == '\r') {
            startBody(headers.toString(StandardCharsets.ISO_8859_1));
        }
        lineLength = 0;
    }

    private void startBody(String headerBlock) {
        String disposition = ContentDisposition.of(headerBlock);
        name = disposition == null ? null : ContentDisposition.parameter(disposition, "name");
        boolean file = disposition != null && (ContentDisposition.parameter(disposition, "filename") != null
                || ContentDisposition.parameter(disposition, "filename*") != null);
        text = !file && !(name != null && largeFields.contains(name));
        state = State.BODY;
        partBytes = 0;
        matched = 0;
        previous = '\n'; // the body begins at the start of a line
        beforePrevious = -1;
    }

    private void body(int b) {
        partBytes++;
        if (matched > 0 && delimiter[matched] == (byte) b) {
            matched++;
            if (matched == delimiter.length) {
                state = State.DELIMITER_LINE;
                lineBytes = 0;
                lineCr = false;
            }
            shift(b);
            return;
        }
        matched = 0;
        if ((previous == '\n' || previous == '\r') && delimiter[0] == (byte) b) {
            // a delimiter may begin here; the line break before it is not content
            matched = 1;
            matchStart = partBytes - 1;
            eolBefore = partBytes == 1 ? 0 : previous == '\n' && beforePrevious == '\r' ? 2 : 1;
        }
        shift(b);
        checkText(definiteContent());
    }

    private void shift(int b) {
        beforePrevious = previous;
        previous = b;
    }

    /** Content bytes of the current part that no delimiter can take back any more. */
    private long definiteContent() {
        long pending = matched > 0 ? partBytes - matchStart + eolBefore : 2;
        return Math.max(0, partBytes - pending);
    }

    private void delimiterLine(int b) {
        partBytes++;
        lineBytes++;
        if (lineBytes == 1 && b == '-') {
            lastLineByte = b;
            return;
        }
        if (lineBytes == 2 && lastLineByte == '-') {
            if (b == '-') {
                endPart();
                state = State.DONE;
                return;
            }
            notADelimiter(b, false);
            return;
        }
        if (b == '\n') {
            endPart();
            if (violation == null) {
                startPart();
            }
            return;
        }
        if (lineCr) {
            notADelimiter(b, true);
            return;
        }
        if (b == '\r') {
            lineCr = true;
            lastLineByte = b;
            return;
        }
        if (b == ' ' || b == '\t') {
            lastLineByte = b;
            return;
        }
        notADelimiter(b, false);
    }

    /** The match was content after all; {@code b} is looked at again as content. */
    private void notADelimiter(int b, boolean afterCr) {
        state = State.BODY;
        matched = 0;
        previous = afterCr ? '\r' : 'x';
        beforePrevious = -1;
        partBytes--;
        body(b);
    }

    private void endPart() {
        long size = matchStart - eolBefore;
        checkText(size);
        if (violation == null && text) {
            textBytes += size;
        }
    }

    private void checkText(long size) {
        if (!text || violation != null) {
            return;
        }
        if (size > maxFieldBytes) {
            violation = "Field '" + FormBodies.abbreviate(String.valueOf(name)) + "' is too long: at most "
                    + maxFieldBytes + " bytes.";
        } else if (textBytes + size > maxFieldsTotalBytes) {
            violation = "Form fields too large: at most " + maxFieldsTotalBytes
                    + " bytes in all fields that are no files.";
        }
    }

    /** The {@code Content-Disposition} header of a part and its parameters. */
    static final class ContentDisposition {
        private ContentDisposition() {
        }

        /** The value of the (last) Content-Disposition header in a header block, unfolded; or null. */
        static String of(String headerBlock) {
            String value = null;
            String[] lines = headerBlock.split("\r?\n");
            for (int i = 0; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon < 0 || !lines[i].substring(0, colon).trim().equalsIgnoreCase("content-disposition")) {
                    continue;
                }
                StringBuilder v = new StringBuilder(lines[i].substring(colon + 1));
                while (i + 1 < lines.length && (lines[i + 1].startsWith(" ") || lines[i + 1].startsWith("\t"))) {
                    v.append(lines[++i]);
                }
                value = v.toString();
            }
            return value;
        }

        /** A parameter's value (unquoted), or null when the parameter is absent. */
        static String parameter(String disposition, String wanted) {
            int i = 0;
            int n = disposition.length();
            while (i < n) {
                // skip to the next ';' outside quotes
                boolean quoted = false;
                while (i < n && (quoted || disposition.charAt(i) != ';')) {
                    char c = disposition.charAt(i);
                    if (c == '"') {
                        quoted = !quoted;
                    } else if (c == '\\' && quoted) {
                        i++;
                    }
                    i++;
                }
                i++;
                int eq = disposition.indexOf('=', i);
                int semicolon = disposition.indexOf(';', i);
                if (eq < 0) {
                    return null;
                }
                if (semicolon >= 0 && semicolon < eq) {
                    continue;
                }
                String key = disposition.substring(i, eq).trim().toLowerCase(Locale.ROOT);
                int start = eq + 1;
                while (start < n && (disposition.charAt(start) == ' ' || disposition.charAt(start) == '\t')) {
                    start++;
                }
                StringBuilder value = new StringBuilder();
                int j = start;
                if (j < n && disposition.charAt(j) == '"') {
                    for (j++; j < n && disposition.charAt(j) != '"'; j++) {
                        char c = disposition.charAt(j);
                        if (c == '\\' && j + 1 < n) {
                            c = disposition.charAt(++j);
                        }
                        value.append(c);
                    }
                    j++;
                } else {
                    for (; j < n && disposition.charAt(j) != ';'; j++) {
                        value.append(disposition.charAt(j));
                    }
                }
                if (key.equals(wanted)) {
                    return value.toString().trim();
                }
                i = j;
            }
            return null;
        }
    }
}
