package org.flserver.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class MetricChartTest {

    @Test
    void drawsOneLineAPointPerRoundScaledIntoThePlot() {
        Map<String, SortedMap<Integer, Double>> series = new LinkedHashMap<>();
        series.put("accuracy", new TreeMap<>(Map.of(1, 0.5, 2, 0.75, 3, 1.0)));
        String svg = MetricChart.svg(series);
        Matcher line = Pattern.compile("points=\"([^\"]*)\"").matcher(svg);
        assertTrue(line.find());
        String[] points = line.group(1).split(" ");
        assertEquals(3, points.length);
        // first point bottom-left of the plot, last top-right; the middle one half-way up
        assertEquals("48.0,192.0", points[0]);
        assertEquals("548.0,12.0", points[2]);
        assertEquals("298.0,102.0", points[1]);
        assertTrue(svg.contains(">accuracy</text>"));
    }

    @Test
    void escapesMetricKeysAndSkipsNonFiniteValues() {
        Map<String, SortedMap<Integer, Double>> series = new LinkedHashMap<>();
        series.put("<script>alert('x')</script>", new TreeMap<>(Map.of(1, 2.0, 2, Double.NaN)));
        String svg = MetricChart.svg(series);
        assertFalse(svg.contains("<script>"));
        assertTrue(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assertEquals(1, svg.split("<circle").length - 1);
    }

    @Test
    void nothingToDrawGivesNoMarkup() {
        assertEquals("", MetricChart.svg(Map.of()));
        assertEquals("", MetricChart.svg(Map.of("loss", new TreeMap<>(Map.of(1, Double.NaN)))));
    }
}
