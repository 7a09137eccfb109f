package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The entries of one directory, in memory. Each entry gets a cookie when it is added: readdir
 * offsets are cookies, so a listing continues correctly however the directory changed meanwhile
 * (no position shifts as with OFFSET paging). An entry replaced under the same name (rename over
 * it) keeps its cookie, as ext4 keeps the directory slot: a listing in progress shows that name
 * once, with the old inode or the new one, never twice. Cookies 1 and 2 are "." and "..";
 * entries start at 3.
 *
 * <p>Names whose stored entry was found damaged when the directory was loaded are refused: EIO for
 * any use of the name (lookup, creation, rename onto it), left out of listings, and a directory
 * holding one is not empty. Its authentic entries are served as usual.
 *
 * <p>Guarded by the owning node's lock.
 */
final class Directory {
    static final long DOT_COOKIE = 1;
    static final long DOTDOT_COOKIE = 2;

    record Slot(Name name, long ino, int mode, long cookie) {}

    private final Map<Name, Slot> byName = new HashMap<>();
    private final TreeMap<Long, Slot> byCookie = new TreeMap<>();
    private final Set<Name> damaged = new HashSet<>();
    private long nextCookie = 3;

    /** The entry named {@code name}, or null; EIO if its stored entry is damaged. */
    Slot get(Name name) {
        if (!damaged.isEmpty() && damaged.contains(name)) {
            throw new FuseException(Errno.EIO, "the entry '" + name + "' is damaged");
        }
        return byName.get(name);
    }

    /** Refuses {@code name} from now on: its stored entry is damaged. */
    void refuse(Name name) {
        damaged.add(name);
    }

    /** Adds the entry for {@code name}, or points the existing one, in its place, at {@code ino}. */
    void put(Name name, long ino, int mode) {
        Slot old = remove(name);
        Slot slot = new Slot(name, ino, mode, old != null ? old.cookie() : nextCookie++);
        byName.put(name, slot);
        byCookie.put(slot.cookie(), slot);
    }

    Slot remove(Name name) {
        Slot old = byName.remove(name);
        if (old != null) {
            byCookie.remove(old.cookie());
        }
        return old;
    }

    /** Entries whose cookie is greater than {@code cookie}, in cookie order (a live view). */
    Collection<Slot> after(long cookie) {
        return byCookie.tailMap(cookie, false).values();
    }

    boolean isEmpty() {
        return byName.isEmpty() && damaged.isEmpty();
    }
}
