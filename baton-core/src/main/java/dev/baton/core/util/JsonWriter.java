package dev.baton.core.util;

/**
 * A minimal streaming JSON writer for the state dump: pretty-printed with 2-space indentation,
 * one member or element per line, {@code {}} and {@code []} for empty containers. The caller is
 * trusted to nest begin/end calls properly and to write a name before each object member.
 *
 * <p>Strings are escaped per RFC 8259: quote and backslash with a backslash, every control
 * character (below U+0020) as {@code \}{@code uXXXX}. U+2028, U+2029 and unpaired surrogates are
 * written as {@code \}{@code uXXXX} too, so that the text survives JavaScript parsers and UTF-8
 * encoding unchanged. Everything else, non-ASCII included, is written as is.
 */
public final class JsonWriter {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final StringBuilder out = new StringBuilder(4096);
    private int depth;
    /** The innermost open container has no element yet. */
    private boolean empty = true;
    /** A member name was just written; the next value belongs to it. */
    private boolean afterName;

    public JsonWriter beginObject() {
        beforeValue();
        out.append('{');
        depth++;
        empty = true;
        return this;
    }

    public JsonWriter endObject() {
        return close('}');
    }

    public JsonWriter beginArray() {
        beforeValue();
        out.append('[');
        depth++;
        empty = true;
        return this;
    }

    public JsonWriter endArray() {
        return close(']');
    }

    /** Starts an object member; its value must follow. */
    public JsonWriter name(String name) {
        newElement();
        string(name);
        out.append(": ");
        afterName = true;
        return this;
    }

    public JsonWriter value(long v) {
        beforeValue();
        out.append(v);
        return this;
    }

    public JsonWriter value(boolean v) {
        beforeValue();
        out.append(v);
        return this;
    }

    /** A string, or {@code null} for a null reference. */
    public JsonWriter value(String v) {
        beforeValue();
        if (v == null) {
            out.append("null");
        } else {
            string(v);
        }
        return this;
    }

    public JsonWriter nullValue() {
        beforeValue();
        out.append("null");
        return this;
    }

    public JsonWriter field(String name, long v) {
        return name(name).value(v);
    }

    public JsonWriter field(String name, boolean v) {
        return name(name).value(v);
    }

    public JsonWriter field(String name, String v) {
        return name(name).value(v);
    }

    @Override
    public String toString() {
        return out.toString();
    }

    private void beforeValue() {
        if (afterName) {
            afterName = false; // the value of a member: on the name's line
        } else {
            newElement();      // an array element, or the top-level value
        }
    }

    private void newElement() {
        if (depth == 0) {
            return;
        }
        if (!empty) {
            out.append(',');
        }
        out.append('\n');
        indent(depth);
        empty = false;
    }

    private JsonWriter close(char c) {
        depth--;
        if (!empty) {
            out.append('\n');
            indent(depth);
        }
        out.append(c);
        empty = false; // the closed container is an element of the enclosing one
        return this;
    }

    private void indent(int levels) {
        for (int i = 0; i < levels; i++) {
            out.append("  ");
        }
    }

    private void string(String s) {
        out.append('"');
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                unicodeEscape(c);
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                out.append(c).append(s.charAt(++i)); // a well-formed pair: one supplementary character
            } else if (Character.isSurrogate(c)) {
                unicodeEscape(c); // unpaired: has no UTF-8 form, so keep it as an escape
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }

    private void unicodeEscape(char c) {
        out.append("\\u").append(HEX[(c >> 12) & 0xF]).append(HEX[(c >> 8) & 0xF]).append(HEX[(c >> 4) & 0xF])
                .append(HEX[c & 0xF]);
    }
}
