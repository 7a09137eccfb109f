package dev.sqlitesuperfs.metrics;

import dev.sqlitesuperfs.fuse.Errno;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/** Symbolic names of errno values (from {@link Errno}), for metric labels an operator can read. */
final class ErrnoNames {
    private static final Map<Integer, String> NAMES = new HashMap<>();

    static {
        for (Field f : Errno.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                try {
                    NAMES.putIfAbsent(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new ExceptionInInitializerError(e);
                }
            }
        }
    }

    private ErrnoNames() {}

    /** "ENOENT" for 2; the number itself for one without a name here. */
    static String of(int errno) {
        return NAMES.getOrDefault(errno, Integer.toString(errno));
    }
}
