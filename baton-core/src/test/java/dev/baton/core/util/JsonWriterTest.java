package dev.baton.core.util;

import dev.baton.core.testing.StrictJson;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The hand-written JSON writer behind {@code Query.DumpJson}: layout and string escaping. */
class JsonWriterTest {

    @Test
    void nestingEmptyContainersAndScalarsArePrettyPrintedWithTwoSpaces() {
        JsonWriter w = new JsonWriter();
        w.beginObject()
                .field("n", -42)
                .field("max", Long.MAX_VALUE)
                .field("ok", true)
                .field("none", (String) null)
                .name("empty").beginArray().endArray()
                .name("nothing").beginObject().endObject()
                .name("list").beginArray().value(1).value("two").beginObject().field("x", 3).endObject()
                .beginArray().endArray().nullValue().endArray()
                .endObject();

        assertThat(w.toString()).isEqualTo("""
                {
                  "n": -42,
                  "max": 9223372036854775807,
                  "ok": true,
                  "none": null,
                  "empty": [],
                  "nothing": {},
                  "list": [
                    1,
                    "two",
                    {
                      "x": 3
                    },
                    [],
                    null
                  ]
                }""");
    }

    @Test
    void stringsAreEscapedAsRfc8259Requires() {
        String nasty = "q\"b\\s/\n\r\t\b\f\u0000\u001f\u007f é ユ \uD83D\uDE00 \u2028\u2029 lone\uD800 low\uDC00 end";
        JsonWriter w = new JsonWriter();
        w.beginObject().field(nasty, nasty).endObject();
        String text = w.toString();

        String escaped = "\"q\\\"b\\\\s/\\u000a\\u000d\\u0009\\u0008\\u000c\\u0000\\u001f\u007f é ユ \uD83D\uDE00 "
                + "\\u2028\\u2029 lone\\ud800 low\\udc00 end\"";
        assertThat(text).isEqualTo("{\n  " + escaped + ": " + escaped + "\n}");
        // every control character is escaped: no raw one is left anywhere in the text but the layout's newlines
        assertThat(text.chars().filter(c -> c < 0x20 && c != '\n')).isEmpty();
        // and a strict parser reads the same string back (lone surrogates included)
        assertThat(StrictJson.parse(text)).isEqualTo(Map.of(nasty, nasty));
    }

    @Test
    void everyCharBelowSpaceIsAUnicodeEscape() {
        StringBuilder all = new StringBuilder();
        for (char c = 0; c < 0x20; c++) {
            all.append(c);
        }
        JsonWriter w = new JsonWriter();
        w.beginArray().value(all.toString()).endArray();
        StringBuilder want = new StringBuilder("[\n  \"");
        for (int c = 0; c < 0x20; c++) {
            want.append(String.format("\\u%04x", c));
        }
        assertThat(w.toString()).isEqualTo(want.append("\"\n]").toString());
        assertThat(StrictJson.parse(w.toString())).isEqualTo(List.of(all.toString()));
    }

    @Test
    void theStrictParserRefusesInvalidJson() {
        for (String bad : List.of("", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "\"raw\ncontrol\"", "\"bad \\x escape\"",
                "01", "1.", "-", "[1] 2", "{\"a\":1,\"a\":2}", "tru", "{a:1}", "'single'", "\"\\u12g4\"")) {
            assertThatThrownBy(() -> StrictJson.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(StrictJson.parse(" {\"a\": [1, -2, 3.5e1, true, false, null, \"\\u00e9\\/\"]} "))
                .isEqualTo(Map.of("a", java.util.Arrays.asList(1L, -2L, 35.0, true, false, null, "é/")));
    }
}
