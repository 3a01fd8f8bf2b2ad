package org.flserver.tensor.safetensors;

import org.flserver.tensor.WeightFileException;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader for safetensors headers (the tensor packages may not depend on a JSON
 * library). Objects become insertion-ordered maps, arrays lists, numbers {@link Number} ({@link Long}
 * when integral and in range, {@link BigInteger} when integral and larger, {@link Double} otherwise),
 * {@code null} becomes {@link #NULL}. Duplicate keys and nesting deeper than 64 are refused.
 */
public final class Json {

    /** JSON {@code null}. */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    private static final int MAX_DEPTH = 64;
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value followed only by whitespace. */
    public static Object parse(String text) throws WeightFileException {
        Json p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.i != text.length()) {
            throw p.error("trailing characters");
        }
        return v;
    }

    private Object value(int depth) throws WeightFileException {
        if (depth > MAX_DEPTH) {
            throw error("nested too deeply");
        }
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{' -> {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (peek('}')) {
                    i++;
                    return m;
                }
                while (true) {
                    ws();
                    if (!peek('"')) {
                        throw error("expected a key");
                    }
                    String k = string();
                    ws();
                    expect(':');
                    ws();
                    Object v = value(depth + 1);
                    if (m.put(k, v) != null) {
                        throw error("duplicate key '" + k + "'");
                    }
                    ws();
                    if (peek(',')) {
                        i++;
                    } else {
                        expect('}');
                        return m;
                    }
                }
            }
            case '[' -> {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (peek(']')) {
                    i++;
                    return l;
                }
                while (true) {
                    ws();
                    l.add(value(depth + 1));
                    ws();
                    if (peek(',')) {
                        i++;
                    } else {
                        expect(']');
                        return l;
                    }
                }
            }
            case '"' -> {
                return string();
            }
            case 't' -> {
                literal("true");
                return Boolean.TRUE;
            }
            case 'f' -> {
                literal("false");
                return Boolean.FALSE;
            }
            case 'n' -> {
                literal("null");
                return NULL;
            }
            default -> {
                return number();
            }
        }
    }

    private String string() throws WeightFileException {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw error("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw error("unterminated escape");
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (i + 4 > s.length()) {
                        throw error("short \\u escape");
                    }
                    try {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    i += 4;
                }
                default -> throw error("bad escape");
            }
        }
    }

    private Number number() throws WeightFileException {
        int start = i;
        if (peek('-')) {
            i++;
        }
        int digits = i;
        while (i < s.length() && isAsciiDigit(s.charAt(i))) {
            i++;
        }
        if (i == digits || s.charAt(digits) == '0' && i - digits > 1) {
            throw error("bad number");
        }
        boolean integral = true;
        if (peek('.')) {
            integral = false;
            i++;
            int f = i;
            while (i < s.length() && isAsciiDigit(s.charAt(i))) {
                i++;
            }
            if (i == f) {
                throw error("bad number");
            }
        }
        if (peek('e') || peek('E')) {
            integral = false;
            i++;
            if (peek('+') || peek('-')) {
                i++;
            }
            int e = i;
            while (i < s.length() && isAsciiDigit(s.charAt(i))) {
                i++;
            }
            if (i == e) {
                throw error("bad number");
            }
        }
        String t = s.substring(start, i);
        if (integral && t.length() > 400) {
            throw error("number too long");
        }
        // The grammar above admits only what both parsers take; a slip must still be a refusal, not a 500.
        try {
            if (!integral) {
                return Double.parseDouble(t);
            }
            BigInteger v = new BigInteger(t);
            return v.bitLength() < 64 ? (Number) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw error("bad number");
        }
    }

    /**
     * JSON digits are ASCII only: {@link Character#isDigit} also takes other scripts' digits (Arabic-Indic,
     * Devanagari, …), which {@link Double#parseDouble} then refuses with an unchecked exception.
     */
    private static boolean isAsciiDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void literal(String word) throws WeightFileException {
        if (!s.startsWith(word, i)) {
            throw error("unexpected character");
        }
        i += word.length();
    }

    private void ws() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            i++;
        }
    }

    private boolean peek(char c) {
        return i < s.length() && s.charAt(i) == c;
    }

    private void expect(char c) throws WeightFileException {
        if (!peek(c)) {
            throw error("expected '" + c + "'");
        }
        i++;
    }

    private WeightFileException error(String what) {
        return new WeightFileException("malformed JSON header at character " + i + ": " + what);
    }
}
