package org.flserver.web;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;

/**
 * Renders the metrics of a training's test rounds as an inline SVG line chart: one line per metric
 * key, x = round (step), y = the mean of the participants' values in that round. Drawn on the
 * server, without JavaScript, so the admin pages stay plain Facelets; every text taken from users
 * (metric keys) is XML-escaped here because the markup is written unescaped into the page.
 */
public final class MetricChart {

    static final int WIDTH = 560;
    static final int HEIGHT = 220;
    private static final int LEFT = 48;
    private static final int RIGHT = 12;
    private static final int TOP = 12;
    private static final int BOTTOM = 28;
    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

    private MetricChart() {
    }

    /** SVG markup for the series (key → step → value), or an empty string when there is nothing to draw. */
    public static String svg(Map<String, SortedMap<Integer, Double>> series) {
        List<Map.Entry<String, SortedMap<Integer, Double>>> lines = new ArrayList<>();
        int minX = Integer.MAX_VALUE;
        int maxX = Integer.MIN_VALUE;
        double minY = Double.POSITIVE_INFINITY;
        double maxY = Double.NEGATIVE_INFINITY;
        for (Map.Entry<String, SortedMap<Integer, Double>> e : series.entrySet()) {
            boolean any = false;
            for (Map.Entry<Integer, Double> p : e.getValue().entrySet()) {
                if (Double.isFinite(p.getValue())) {
                    minX = Math.min(minX, p.getKey());
                    maxX = Math.max(maxX, p.getKey());
                    minY = Math.min(minY, p.getValue());
                    maxY = Math.max(maxY, p.getValue());
                    any = true;
                }
            }
            if (any) {
                lines.add(e);
            }
        }
        if (lines.isEmpty()) {
            return "";
        }
        if (maxX == minX) {
            maxX = minX + 1;
        }
        if (maxY == minY) {
            maxY = minY + 1;
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\""
                + " height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"metrics per round\">",
                WIDTH, HEIGHT, WIDTH, HEIGHT));
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\""
                + " stroke=\"#ccc\"/>", LEFT, TOP, plotW, plotH));
        svg.append(label(4, TOP + 10, number(maxY), "start"));
        svg.append(label(4, TOP + plotH, number(minY), "start"));
        svg.append(label(LEFT, HEIGHT - 8, "round " + minX, "start"));
        svg.append(label(WIDTH - RIGHT, HEIGHT - 8, "round " + maxX, "end"));
        int i = 0;
        for (Map.Entry<String, SortedMap<Integer, Double>> line : lines) {
            String colour = COLOURS[i % COLOURS.length];
            StringBuilder points = new StringBuilder();
            for (Map.Entry<Integer, Double> p : line.getValue().entrySet()) {
                if (!Double.isFinite(p.getValue())) {
                    continue;
                }
                double x = LEFT + (p.getKey() - minX) * (double) plotW / (maxX - minX);
                double y = TOP + plotH - (p.getValue() - minY) * plotH / (maxY - minY);
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
                svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                        x, y, colour));
            }
            svg.append("<polyline fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"2\" points=\"")
                    .append(points.toString().strip()).append("\"/>");
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    LEFT + 8, TOP + 14 + 13 * i, colour, escape(line.getKey())));
            i++;
        }
        return svg.append("</svg>").toString();
    }

    private static String label(int x, int y, String text, String anchor) {
        return String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\""
                + " text-anchor=\"%s\">%s</text>", x, y, anchor, escape(text));
    }

    private static String number(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c < 0x20 && c != '\t' ? ' ' : c);
            }
        }
        return out.toString();
    }
}
