package org.flserver.metric;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.flserver.platform.ApiException;
import org.junit.jupiter.api.Test;

/** {@link MetricValue}: Python's {@code float()} decides between number and bytes, case by case. */
class MetricValueTest {

    @Test
    void whatPythonFloatAccepts() {
        assertEquals(0.96, MetricValue.pythonFloat("0.96"));
        assertEquals(2.0, MetricValue.pythonFloat(" 2 "));
        assertEquals(2.0, MetricValue.pythonFloat("\t2\n"));
        assertEquals(1000.0, MetricValue.pythonFloat("1e3"));
        assertEquals(1000.0, MetricValue.pythonFloat("1E+3"));
        assertEquals(-0.5, MetricValue.pythonFloat("-.5"));
        assertEquals(5.0, MetricValue.pythonFloat("5."));
        assertEquals(3.0, MetricValue.pythonFloat("+3"));
        assertEquals(1000.5, MetricValue.pythonFloat("1_000.5"));
        assertEquals(Double.POSITIVE_INFINITY, MetricValue.pythonFloat("1e999"));
        assertEquals(Double.NaN, MetricValue.pythonFloat("nan"));
        assertEquals(Double.NaN, MetricValue.pythonFloat("-NaN"));
        assertEquals(Double.POSITIVE_INFINITY, MetricValue.pythonFloat("inf"));
        assertEquals(Double.POSITIVE_INFINITY, MetricValue.pythonFloat("+Infinity"));
        assertEquals(Double.NEGATIVE_INFINITY, MetricValue.pythonFloat("-INF"));
    }

    @Test
    void whatPythonFloatRefuses() {
        for (String text : List.of("", " ", "hello", "1.5f", "1d", "0x10", "1__0", "_1", "1_", "1e", ".", "e3",
                "1.2.3", "infinit", "nan1", "1 2")) {
            assertNull(MetricValue.pythonFloat(text), text);
        }
    }

    @Test
    void pairsNamesWithNumbersOrUtf8Bytes() {
        List<MetricValue> values = MetricValue.parse(List.of("acc", "note"), List.of("0.5", "größe"), 2);
        assertEquals(0.5, values.get(0).valueFloat());
        assertNull(values.get(0).valueBinary());
        assertNull(values.get(1).valueFloat());
        assertArrayEquals("größe".getBytes(StandardCharsets.UTF_8), values.get(1).valueBinary());
        ApiException e = assertThrows(ApiException.class,
                () -> MetricValue.parse(List.of("k".repeat(33)), List.of("1"), 1000));
        assertEquals(400, e.status());
    }

    @Test
    void moreRowsThanTheLimitAreRefusedBeforeAnyIsParsed() {
        List<String> names = java.util.Collections.nCopies(3, "k".repeat(40));
        List<String> values = java.util.Collections.nCopies(3, "1");
        // the count is checked first: the over-long keys are not even looked at
        ApiException e = assertThrows(ApiException.class, () -> MetricValue.parse(names, values, 2));
        assertEquals(413, e.status());
        assertEquals("{\"detail\":\"Too many metrics: at most 2 per request.\"}", e.body().toString());
        assertEquals(3, MetricValue.parse(java.util.Collections.nCopies(3, "k"), values, 3).size());
    }
}
