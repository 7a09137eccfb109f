package dev.sqlitesuperfs.crypto;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A passphrase held as UTF-8 bytes in locked native memory; {@link #close()} zeroes it. It never
 * keeps a Java array of the passphrase, so the only heap copies are the caller's, which the caller
 * zeroes.
 */
public final class Passphrase implements AutoCloseable {

    private final LockedMemory memory;

    private Passphrase(long utf8Length) {
        this.memory = new LockedMemory("Passphrase", utf8Length);
    }

    /**
     * Encodes {@code chars} as UTF-8 straight into native memory, without an intermediate
     * {@code String} or {@code byte[]}. Does not keep {@code chars}; the caller zeroes them.
     *
     * @throws IllegalArgumentException if {@code chars} holds a surrogate without its partner (it
     *                                  has no UTF-8 encoding; replacing it would silently change
     *                                  the passphrase)
     */
    public static Passphrase fromChars(char[] chars) {
        Passphrase passphrase = new Passphrase(utf8Length(chars));
        try {
            encode(chars, passphrase.segment());
        } catch (RuntimeException | Error e) {
            passphrase.close();
            throw e;
        }
        return passphrase;
    }

    /** Copies {@code utf8} into native memory. Does not keep the array; the caller zeroes it. */
    public static Passphrase fromBytes(byte[] utf8) {
        Passphrase passphrase = new Passphrase(utf8.length);
        MemorySegment.copy(utf8, 0, passphrase.segment(), ValueLayout.JAVA_BYTE, 0, utf8.length);
        return passphrase;
    }

    /**
     * A copy of the UTF-8 bytes on the heap, for handing the passphrase to another process (the
     * client of a host sends it over the control socket). The caller owns the copy and zeroes it.
     */
    public byte[] copyBytes() {
        return memory.segment().toArray(ValueLayout.JAVA_BYTE);
    }

    public boolean isEmpty() {
        return memory.size() == 0;
    }

    /** The UTF-8 bytes, for passing to native calls. */
    MemorySegment segment() {
        return memory.segment();
    }

    /** The pages behind the passphrase, still readable after close; only for checking the wipe. */
    MemorySegment pagesForInspection() {
        return memory.pagesForInspection();
    }

    /** Zeroes the passphrase. Idempotent. */
    @Override
    public void close() {
        memory.close();
    }

    @Override
    public String toString() {
        return memory.isClosed() ? "Passphrase[closed]" : "Passphrase[hidden]";
    }

    private static long utf8Length(char[] chars) {
        long length = 0;
        for (int i = 0; i < chars.length; i++) {
            char c = chars[i];
            if (c < 0x80) {
                length += 1;
            } else if (c < 0x800) {
                length += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < chars.length
                    && Character.isLowSurrogate(chars[i + 1])) {
                length += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(
                        "passphrase has an unpaired UTF-16 surrogate at position " + i);
            } else {
                length += 3;
            }
        }
        return length;
    }

    private static void encode(char[] chars, MemorySegment out) {
        long at = 0;
        for (int i = 0; i < chars.length; i++) {
            char c = chars[i];
            if (c < 0x80) {
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) c);
            } else if (c < 0x800) {
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0xC0 | (c >> 6)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | (c & 0x3F)));
            } else if (Character.isHighSurrogate(c)) {
                int cp = Character.toCodePoint(c, chars[++i]);
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0xF0 | (cp >> 18)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | ((cp >> 12) & 0x3F)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | ((cp >> 6) & 0x3F)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | (cp & 0x3F)));
            } else {
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0xE0 | (c >> 12)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | ((c >> 6) & 0x3F)));
                out.set(ValueLayout.JAVA_BYTE, at++, (byte) (0x80 | (c & 0x3F)));
            }
        }
    }
}
