package dev.baton.core.util;

import dev.baton.core.util.BinaryReader.MalformedException;
import org.junit.jupiter.api.Test;


import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The two rules the fuzz tests (docs/fuzzing.md) added to {@link BinaryReader}. */
class BinaryReaderTest {

    @Test
    void aCountThatSizesAListCannotExceedTheBytesLeft() {
        byte[] msg = new BinaryWriter().varint(50_000).u8(1).u8(2).toByteArray();
        assertThatThrownBy(() -> new BinaryReader(msg).itemCount(1 << 16))
                .isInstanceOf(MalformedException.class)
                .hasMessageContaining("exceeds the 2 bytes left");
        assertThat(new BinaryReader(new BinaryWriter().varint(2).u8(1).u8(2).toByteArray()).itemCount(10)).isEqualTo(2);
        assertThatThrownBy(() -> new BinaryReader(new BinaryWriter().varint(11).toByteArray()).itemCount(10))
                .isInstanceOf(MalformedException.class);
    }

    @Test
    void stringsMustBeWellFormedUtf8() {
        for (String s : new String[] {"", "ascii", "Käse", "名前", "emoji \uD83D\uDE00"}) {
            BinaryReader r = new BinaryReader(new BinaryWriter().string(s).toByteArray());
            assertThat(r.string(4096)).isEqualTo(s);
            r.expectEnd();
        }
        byte[][] bad = {
                {(byte) 0xFF},                         // never valid
                {(byte) 0xC3},                         // truncated sequence
                {(byte) 0xC0, (byte) 0x80},            // overlong NUL
                {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // a surrogate
                {'o', (byte) 0xE4},                  // Latin-1, not UTF-8
        };
        for (byte[] b : bad) {
            byte[] msg = new BinaryWriter().bytes(b).toByteArray();
            assertThatThrownBy(() -> new BinaryReader(msg).string(4096))
                    .isInstanceOf(MalformedException.class)
                    .hasMessageContaining("not well-formed UTF-8");
        }
    }
}
