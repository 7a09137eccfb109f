package dev.sqlitesuperfs.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A child process (see {@link ChildJava}) that performs one system call per input line and
 * answers with its errno (0 on success), so the same script can be run as another user on the
 * mount and on a local filesystem and the answers compared. "stat PATH" answers "mode uid gid"
 * (mode in octal) instead.
 */
public final class PosixProbe {
    private PosixProbe() {}

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.split(" ");
            String answer;
            try {
                answer = run(w);
            } catch (Posix.ErrnoException e) {
                answer = Integer.toString(e.errno);
            }
            System.out.println(answer);
            System.out.flush();
        }
    }

    private static String run(String[] w) {
        Path p = Path.of(w[1]);
        switch (w[0]) {
            case "read" -> Posix.close(Posix.open(p, Posix.O_RDONLY, 0));
            case "write" -> Posix.close(Posix.open(p, Posix.O_WRONLY, 0));
            case "create" -> Posix.close(Posix.open(p, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, octal(w[2])));
            case "opendir" -> Posix.close(Posix.open(p, Posix.O_RDONLY | Posix.O_DIRECTORY, 0));
            case "mkdir" -> Posix.mkdir(p, octal(w[2]));
            case "unlink" -> Posix.unlink(p);
            case "rmdir" -> Posix.rmdir(p);
            case "rename" -> Posix.rename(p, Path.of(w[2]), 0);
            case "chmod" -> Posix.chmod(p, octal(w[2]));
            case "chown" -> Posix.lchown(p, Integer.parseInt(w[2]), Integer.parseInt(w[3]));
            case "append" -> {
                int fd = Posix.open(p, Posix.O_WRONLY | Posix.O_APPEND, 0);
                try {
                    Posix.write(fd, new byte[] {'+'});
                } finally {
                    Posix.close(fd);
                }
            }
            case "truncate" -> Posix.truncate(p, 0);
            case "touch-now" -> Posix.utimens(p, 0, Posix.UTIME_NOW, 0, Posix.UTIME_NOW, false);
            case "touch-past" -> Posix.utimens(p, 1_000_000, 0, 1_000_000, 0, false);
            case "access" -> Posix.access(p, accessMask(w[2]));
            case "exec" -> {
                return Integer.toString(exec(p));
            }
            case "stat" -> {
                Posix.Stat s = Posix.lstat(p);
                return Integer.toOctalString(s.mode()) + " " + s.uid() + " " + s.gid();
            }
            default -> throw new IllegalArgumentException("unknown probe command " + w[0]);
        }
        return "0";
    }

    private static int octal(String s) {
        return Integer.parseInt(s, 8);
    }

    private static int accessMask(String rwx) {
        int mask = 0;
        for (char c : rwx.toCharArray()) {
            mask |= switch (c) {
                case 'r' -> Posix.R_OK;
                case 'w' -> Posix.W_OK;
                case 'x' -> Posix.X_OK;
                default -> 0;
            };
        }
        return mask;
    }

    /** Runs the file; the exit code it ended with, or the errno execve failed with. */
    private static int exec(Path p) {
        try {
            Process child = new ProcessBuilder(p.toString()).start();
            return child.waitFor();
        } catch (IOException e) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("error[=:] ?(\\d+)").matcher(String.valueOf(e.getMessage()));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
