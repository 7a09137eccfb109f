package dev.sqlitesuperfs.model;

import dev.sqlitesuperfs.fuse.Errno;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * errno values printed by name, so that mismatches read like man pages. The names come from the
 * constants of {@link Errno}, the project's one list of errno values.
 */
final class Errnos {
    private static final Map<Integer, String> NAMES = namesOf(Errno.class);

    private Errnos() {}

    static String name(int errno) {
        return NAMES.getOrDefault(errno, "errno " + errno);
    }

    private static Map<Integer, String> namesOf(Class<?> constants) {
        Map<Integer, String> names = new HashMap<>();
        for (Field field : constants.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == int.class) {
                try {
                    names.putIfAbsent(field.getInt(null), field.getName());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return Map.copyOf(names);
    }
}
