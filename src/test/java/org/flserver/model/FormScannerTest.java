package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link FormScanner}: the bounds are found at the byte that crosses them, however the body is
 * split into reads, and delimiters are recognised as leniently as the runtime's parser does.
 */
class FormScannerTest {

    private static final String B = "XyZ-boundary";
    private static final FormLimits LIMITS = new FormLimits(5, 10, 25);

    /** A body built part by part, remembering where each part's delimiter line ends. */
    private static final class Body {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        String eol = "\r\n";

        Body field(String name, String value) {
            return part("Content-Disposition: form-data; name=\"" + name + "\"", value.getBytes(StandardCharsets.UTF_8));
        }

        Body file(String name, byte[] content) {
            return part("Content-Disposition: form-data; name=\"" + name + "\"; filename=\"f.bin\"" + eol
                    + "Content-Type: application/octet-stream", content);
        }

        Body part(String headers, byte[] content) {
            write("--" + B + eol + headers + eol + eol);
            out.writeBytes(content);
            write(eol);
            return this;
        }

        byte[] close() {
            write("--" + B + "--" + eol);
            return out.toByteArray();
        }

        byte[] open() {
            return out.toByteArray();
        }

        private void write(String s) {
            out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void aFormWithinTheBoundsPassesWhole() {
        byte[] file = new byte[5000];
        Arrays.fill(file, (byte) 'a');
        byte[] body = new Body().field("name", "0123456789").field("description", "d").file("model_file", file)
                .field("round", "3").close();
        for (int chunk : new int[]{1, 2, 7, 4096, body.length}) {
            FormScanner scanner = scanner();
            assertEquals(body.length, feed(scanner, body, chunk), "chunk " + chunk);
            assertNull(scanner.violation());
            assertEquals(4, scanner.parts());
        }
    }

    @Test
    void theSixthPartIsCutAtTheEndOfItsDelimiterLine() {
        Body b = new Body();
        for (int i = 0; i < 5; i++) {
            b.field("f" + i, "");
        }
        int beforeSixth = b.open().length;
        byte[] body = b.field("f5", "").close();
        for (int chunk : new int[]{1, 3, body.length}) {
            FormScanner scanner = scanner();
            int accepted = feed(scanner, body, chunk);
            assertEquals("Too many form parts: at most 5 per request.", scanner.violation());
            // everything before the sixth delimiter's line break passes, nothing after it
            assertEquals(beforeSixth + ("--" + B + "\r").length(), accepted, "chunk " + chunk);
        }
    }

    @Test
    void aFloodOfEmptyFieldsStopsAtTheLimitWithoutReadingTheRest() {
        Body b = new Body();
        for (int i = 0; i < 200_000; i++) {
            b.part("", new byte[0]);
        }
        byte[] body = b.close();
        FormScanner scanner = new FormScanner(B, new FormLimits(100, 65536, 1 << 20), Set.of());
        int accepted = feed(scanner, body, 8192);
        assertEquals("Too many form parts: at most 100 per request.", scanner.violation());
        assertTrue(accepted < 100 * 40, "accepted " + accepted);
    }

    @Test
    void aFieldOfTheLimitPassesAndOneByteMoreIsRefused() {
        FormScanner ok = scanner();
        byte[] fits = new Body().field("description", "x".repeat(10)).close();
        assertEquals(fits.length, feed(ok, fits, 1));
        assertNull(ok.violation());

        for (String eol : new String[]{"\r\n", "\n"}) {
            Body b = new Body();
            b.eol = eol;
            byte[] body = b.field("description", "x".repeat(11)).close();
            FormScanner scanner = scanner();
            feed(scanner, body, 1);
            assertEquals("Field 'description' is too long: at most 10 bytes.", scanner.violation(), eol);
        }
    }

    @Test
    void allTextFieldsTogetherAreBounded() {
        byte[] body = new Body().field("a", "x".repeat(10)).field("b", "x".repeat(10)).field("c", "x".repeat(6))
                .close();
        FormScanner scanner = scanner();
        feed(scanner, body, 5);
        assertEquals("Form fields too large: at most 25 bytes in all fields that are no files.", scanner.violation());
        byte[] exactly = new Body().field("a", "x".repeat(10)).field("b", "x".repeat(10)).field("c", "x".repeat(5))
                .close();
        FormScanner fine = scanner();
        assertEquals(exactly.length, feed(fine, exactly, 5));
        assertNull(fine.violation());
    }

    @Test
    void filesAndDeclaredLargeFieldsAreNoTextFields() {
        byte[] big = ("a line\r\n--" + B + "x is no delimiter\r\n-- " + B + "\r\n").repeat(100)
                .getBytes(StandardCharsets.ISO_8859_1);
        byte[] body = new Body().file("model_file", big).field("model_input", "y".repeat(1000)).close();
        FormScanner scanner = new FormScanner(B, LIMITS, Set.of("model_input"));
        assertEquals(body.length, feed(scanner, body, 100));
        assertNull(scanner.violation());
        assertEquals(2, scanner.parts());
        FormScanner strict = scanner();
        feed(strict, body, 100);
        assertEquals("Field 'model_input' is too long: at most 10 bytes.", strict.violation());
    }

    @Test
    void delimitersAfterAnyLineBreakAndWithBlanksCountAsTheParserSeesThem() {
        // LF only, CR only before the delimiter, blanks after it: MIMEPull accepts each
        String body = "--" + B + "\n\n" + "a" + "\n--" + B + "  \t\n\n" + "b" + "\r--" + B + "\r\n\r\n" + "c"
                + "\r\n--" + B + "\n\n" + "\r\n--" + B + "--";
        FormScanner scanner = new FormScanner(B, new FormLimits(3, 10, 100), Set.of());
        feed(scanner, body.getBytes(StandardCharsets.ISO_8859_1), 1);
        assertEquals("Too many form parts: at most 3 per request.", scanner.violation());
        FormScanner four = new FormScanner(B, new FormLimits(4, 10, 100), Set.of());
        byte[] bytes = body.getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(bytes.length, feed(four, bytes, 1));
        assertNull(four.violation());
        assertEquals(4, four.parts());
    }

    @Test
    void aPreambleAndWhatFollowsTheClosingDelimiterAreSkipped() {
        byte[] form = new Body().field("a", "1").close();
        byte[] body = concat(("preamble --" + B + "x\r\nmore\r\n").getBytes(StandardCharsets.ISO_8859_1), form,
                new Body().field("b", "2").field("c", "3").field("d", "4").field("e", "5").field("f", "6").close());
        FormScanner scanner = scanner();
        assertEquals(body.length, feed(scanner, body, 3));
        assertNull(scanner.violation());
        assertEquals(1, scanner.parts());
    }

    @Test
    void overlongHeadersAndPreamblesAreRefused() {
        byte[] headers = new Body().part("X-Junk: " + "h".repeat(FormScanner.MAX_HEADER_BYTES), new byte[0]).close();
        FormScanner scanner = scanner();
        feed(scanner, headers, 1000);
        assertEquals("The headers of a form part are too long: at most 16384 bytes.", scanner.violation());
        byte[] preamble = ("p".repeat(FormScanner.MAX_HEADER_BYTES + 1)).getBytes(StandardCharsets.ISO_8859_1);
        FormScanner other = scanner();
        feed(other, preamble, 1000);
        assertEquals("The multipart preamble is too long: at most 16384 bytes.", other.violation());
    }

    @Test
    void contentDispositionParameters() {
        String d = FormScanner.ContentDisposition.of("Content-Type: text/plain\r\ncontent-disposition: form-data;"
                + " name=\"a;b \\\"q\\\"\"; filename*=UTF-8''x.pt");
        assertEquals("a;b \"q\"", FormScanner.ContentDisposition.parameter(d, "name"));
        assertEquals("UTF-8''x.pt", FormScanner.ContentDisposition.parameter(d, "filename*"));
        assertNull(FormScanner.ContentDisposition.parameter(d, "filename"));
        assertEquals("x", FormScanner.ContentDisposition.parameter(" form-data; name=x", "name"));
        assertNull(FormScanner.ContentDisposition.of("Content-Type: text/plain"));
        // a part with only filename* is a file: not bounded as text
        byte[] body = new Body().part("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''a.bin",
                "z".repeat(100).getBytes(StandardCharsets.ISO_8859_1)).close();
        FormScanner scanner = scanner();
        assertEquals(body.length, feed(scanner, body, 10));
        assertNull(scanner.violation());
    }

    private static FormScanner scanner() {
        return new FormScanner(B, LIMITS, Set.of());
    }

    /** Feeds the body in chunks as a stream would; returns the bytes accepted in all. */
    private static int feed(FormScanner scanner, byte[] body, int chunk) {
        int accepted = 0;
        for (int offset = 0; offset < body.length; offset += chunk) {
            int length = Math.min(chunk, body.length - offset);
            int n = scanner.feed(body, offset, length);
            accepted += n;
            if (n < length) {
                break;
            }
        }
        return accepted;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
