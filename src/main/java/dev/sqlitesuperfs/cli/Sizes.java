package dev.sqlitesuperfs.cli;

import java.util.Locale;

/** Parses sizes like {@code 4096}, {@code 64K}, {@code 256M}, {@code 2G} (binary units). */
public final class Sizes {
    private Sizes() {}

    public static long parse(String option, String text) {
        return parse(option, text, false);
    }

    /**
     * Like {@link #parse(String, String)}, but a size too large for a long is {@link Long#MAX_VALUE}:
     * for sizes whose real limit is checked later, with a message that names that limit.
     */
    static long parseSaturating(String option, String text) {
        return parse(option, text, true);
    }

    private static long parse(String option, String text, boolean saturate) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                case 'T' -> unit = 1L << 40;
                default -> unit = 1;
            }
            if (unit != 1) {
                t = t.substring(0, t.length() - 1);
            }
        }
        if (!t.matches("[0-9]+")) {
            String why = t.matches("-[0-9]+") ? "a size cannot be negative" : "examples: 4096, 64K, 256M, 2G";
            throw new CliException(ExitCode.USAGE, option + ": not a size: '" + text.trim() + "' (" + why + ")");
        }
        try {
            return Math.multiplyExact(Long.parseLong(t), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            if (saturate) {
                return Long.MAX_VALUE;
            }
            throw new CliException(ExitCode.USAGE, option + ": '" + text.trim() + "' is too large (at most "
                    + Long.MAX_VALUE / (1L << 40) + "T)");
        }
    }
}
