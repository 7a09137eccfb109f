package dev.sqlitesuperfs.sealed;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which authentic entries of a directory are not current, when the entries add up to more than
 * the directory's digest: the excess (their XOR with the digest) is the XOR of the terms of the
 * entries that should not be there, and of those that are missing. When one or two present
 * entries make up the excess exactly, they are the ones brought back or added, and nothing is
 * missing; with terms that nobody outside the mount knows, no other set of entries matches but
 * with negligible probability. Anything else (a missing entry among them) is not explained.
 */
final class StaleEntries {
    private StaleEntries() {}

    /**
     * Indexes into {@code terms} of the one or two entries whose terms XOR to {@code excess}, or
     * null if no one or two do. Linear in the number of entries.
     */
    static int[] explain(List<byte[]> terms, byte[] excess) {
        Map<ByteBuffer, Integer> byTerm = new HashMap<>(terms.size() * 2);
        for (int i = 0; i < terms.size(); i++) {
            byTerm.put(ByteBuffer.wrap(terms.get(i)), i);
        }
        Integer one = byTerm.get(ByteBuffer.wrap(excess));
        if (one != null) {
            return new int[] {one};
        }
        byte[] rest = new byte[excess.length];
        for (int i = 0; i < terms.size(); i++) {
            byte[] term = terms.get(i);
            for (int b = 0; b < rest.length; b++) {
                rest[b] = (byte) (excess[b] ^ term[b]);
            }
            Integer other = byTerm.get(ByteBuffer.wrap(rest));
            if (other != null && other != i) {
                return new int[] {i, other};
            }
        }
        return null;
    }
}
