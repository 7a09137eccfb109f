package dev.sqlitesuperfs.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Group membership as the system's group database has it (/etc/group and whatever else
 * nsswitch.conf names), which Java does not offer: the supplementary groups a user gets at login.
 * A class of its own rather than part of {@link Libc}: it is a library lookup, not a system call.
 */
@SuppressWarnings("restricted")
public final class GroupDatabase {
    private static final MethodHandle GETGROUPLIST = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("getgrouplist")
                    .orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: getgrouplist")),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    /** Linux's NGROUPS_MAX: no user has more. */
    private static final int MAX_GROUPS = 65536;

    private GroupDatabase() {}

    /**
     * Whether the group database lists {@code user} as a member of group {@code gid}. A user the
     * database does not know is a member of nothing. (A user's primary group, from the password
     * database, is not asked about here.)
     */
    public static boolean isMember(String user, int gid) {
        // getgrouplist always adds its second argument to the list; pass one that is not gid
        int base = gid == 0 ? 1 : 0;
        int capacity = 64;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(user);
            while (true) {
                MemorySegment groups = arena.allocate(JAVA_INT, capacity);
                MemorySegment count = arena.allocate(JAVA_INT);
                count.set(JAVA_INT, 0, capacity);
                int found = (int) GETGROUPLIST.invokeExact(name, base, groups, count);
                int n = count.get(JAVA_INT, 0);
                if (found >= 0) {
                    for (int i = 0; i < n; i++) {
                        if (groups.getAtIndex(JAVA_INT, i) == gid) {
                            return true;
                        }
                    }
                    return false;
                }
                if (capacity >= MAX_GROUPS) {
                    return false;
                }
                // too small: n is how many there are (glibc), or unchanged (others); grow either way
                capacity = Math.min(MAX_GROUPS, Math.max(n, capacity * 2));
            }
        } catch (Throwable t) {
            if (t instanceof Error error) {
                throw error;
            }
            throw t instanceof RuntimeException r ? r : new IllegalStateException("getgrouplist failed", t);
        }
    }
}
