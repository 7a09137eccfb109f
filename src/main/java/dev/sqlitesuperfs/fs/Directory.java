package dev.sqlitesuperfs.fs;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The entries of one directory, in memory. Each entry gets a cookie when it is added: readdir
 * offsets are cookies, so a listing continues correctly however the directory changed meanwhile
 * (no position shifts as with OFFSET paging). An entry replaced under the same name gets a new
 * cookie. Cookies 1 and 2 are "." and ".."; entries start at 3.
 *
 * <p>Guarded by the owning node's lock.
 */
final class Directory {
    static final long DOT_COOKIE = 1;
    static final long DOTDOT_COOKIE = 2;

    record Slot(Name name, long ino, int mode, long cookie) {}

    private final Map<Name, Slot> byName = new HashMap<>();
    private final TreeMap<Long, Slot> byCookie = new TreeMap<>();
    private long nextCookie = 3;

    Slot get(Name name) {
        return byName.get(name);
    }

    /** Adds or replaces the entry for {@code name}. */
    void put(Name name, long ino, int mode) {
        remove(name);
        Slot slot = new Slot(name, ino, mode, nextCookie++);
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
        return byName.isEmpty();
    }
}
