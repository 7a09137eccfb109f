package dev.sqlitesuperfs.it;

import dev.sqlitesuperfs.testing.Posix;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A child process for {@link SparseAndAppendTest}: opens PATH with O_APPEND once and writes COUNT
 * lines "TAG i", one write(2) each, after "go" arrives on its input; then answers "done".
 */
public final class AppendingWriter {
    private AppendingWriter() {}

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        String tag = args[1];
        int count = Integer.parseInt(args[2]);
        int fd = Posix.open(path, Posix.O_WRONLY | Posix.O_APPEND, 0);
        System.out.println("ready");
        System.out.flush();
        new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
        for (int i = 0; i < count; i++) {
            Posix.write(fd, (tag + " " + i + "\n").getBytes(StandardCharsets.US_ASCII));
        }
        Posix.close(fd);
        System.out.println("done");
        System.out.flush();
    }
}
