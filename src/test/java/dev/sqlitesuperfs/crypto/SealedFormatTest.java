package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.UUID;

import org.junit.jupiter.api.Test;

/**
 * Pins format version 1: the associated data byte for byte, and payloads sealed outside this code
 * (by an independent XChaCha20-Poly1305 built from HChaCha20 and IETF ChaCha20-Poly1305, following
 * the layout documented on {@link Sealer}) that must open forever.
 */
class SealedFormatTest {

    private static final HexFormat HEX = HexFormat.of();
    private static final UUID NAMESPACE = UUID.fromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    private static final String PREFIX_HEX = "6ba7b8109dad11d180b400c04fd430c8" + "00000001";

    @Test
    void blockAssociatedData() {
        assertThat(associatedData(AssociatedData.Kind.BLOCK, ad -> AssociatedData.writeBlockPosition(ad, 2, 3)))
                .isEqualTo(HEX.formatHex("ssfs/blk".getBytes(StandardCharsets.US_ASCII)) + PREFIX_HEX
                        + "0000000000000002" + "0000000000000003");
        assertThat(associatedData(AssociatedData.Kind.BLOCK,
                ad -> AssociatedData.writeBlockPosition(ad, 0x0102030405060708L, -1)))
                .endsWith("0102030405060708" + "ffffffffffffffff")
                .hasSize(2 * 44);
    }

    @Test
    void symlinkAssociatedData() {
        assertThat(associatedData(AssociatedData.Kind.SYMLINK, ad -> AssociatedData.writeSymlinkPosition(ad, 7)))
                .isEqualTo("737366732f73796d" + PREFIX_HEX + "0000000000000007");
    }

    @Test
    void xattrAssociatedDataPrefixesTheNameWithItsLength() {
        assertThat(associatedData(AssociatedData.Kind.XATTR,
                ad -> (int) AssociatedData.writeXattrPosition(ad, 9, "user.x".getBytes(StandardCharsets.US_ASCII))))
                .isEqualTo("737366732f786174" + PREFIX_HEX + "0000000000000009" + "00000006" + "757365722e78");
        assertThat(associatedData(AssociatedData.Kind.XATTR,
                ad -> (int) AssociatedData.writeXattrPosition(ad, 9, new byte[0])))
                .isEqualTo("737366732f786174" + PREFIX_HEX + "0000000000000009" + "00000000");
    }

    @Test
    void payloadsSealedByAnIndependentImplementationOpen() throws Exception {
        byte[] keyBytes = new byte[32];
        for (int i = 0; i < 32; i++) {
            keyBytes[i] = (byte) i;
        }
        try (SecretKey key = SecretKey.copyOf(keyBytes); Sealer sealer = new Sealer(key, NAMESPACE, 1, 4096)) {
            byte[] block = HEX.parseHex("404142434445464748494a4b4c4d4e4f5051525354555657"
                    + "b256771db1945960ea86f4d7c0f245a3b2d3dee475302bff0e119b2a7b6155f56485d9b59d"
                    + "c719fbeb81dab11d8393884c");
            byte[] dest = new byte[block.length - Sealer.OVERHEAD];
            sealer.openBlock(2, 3, block, dest, 0);
            assertThat(new String(dest, StandardCharsets.US_ASCII)).isEqualTo("format version 1 is fixed forever");

            byte[] symlink = HEX.parseHex("404142434445464748494a4b4c4d4e4f5051525354555657"
                    + "fa172a04b1921e73fbdea0c09875856a6fe446796ef5f81616");
            assertThat(new String(sealer.openSymlink(7, symlink), StandardCharsets.US_ASCII)).isEqualTo("../target");

            byte[] xattr = HEX.parseHex("404142434445464748494a4b4c4d4e4f5051525354555657"
                    + "a2586905b5c6bd951bcb97122a9a97ec738345cf81");
            byte[] name = "user.comment".getBytes(StandardCharsets.US_ASCII);
            assertThat(new String(sealer.openXattr(9, name, xattr), StandardCharsets.US_ASCII)).isEqualTo("value");
        }
    }

    private interface PositionWriter {
        int write(MemorySegment ad);
    }

    private static String associatedData(AssociatedData.Kind kind, PositionWriter position) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ad = arena.allocate(256);
            AssociatedData.writePrefix(ad, kind, NAMESPACE, 1);
            int length = position.write(ad);
            return HEX.formatHex(ad.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        }
    }
}
