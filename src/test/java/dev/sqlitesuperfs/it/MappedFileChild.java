package dev.sqlitesuperfs.it;

import dev.sqlitesuperfs.testing.Posix;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * A child process for {@link SharedMappingTest}: maps PATH (SIZE bytes, MAP_SHARED, read-write)
 * and answers commands on its input: "write OFFSET HEX", "read OFFSET LENGTH" (answers hex),
 * "msync". End of input unmaps and closes.
 */
public final class MappedFileChild {
    private MappedFileChild() {}

    public static void main(String[] args) throws Exception {
        int fd = Posix.open(Path.of(args[0]), Posix.O_RDWR, 0);
        MemorySegment map = Posix.mmap(fd, Long.parseLong(args[1]), Posix.PROT_READ | Posix.PROT_WRITE, 0);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("mapped");
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.split(" ");
            String answer = "ok";
            switch (w[0]) {
                case "write" -> {
                    byte[] data = HexFormat.of().parseHex(w[2]);
                    MemorySegment.copy(data, 0, map, ValueLayout.JAVA_BYTE, Long.parseLong(w[1]), data.length);
                }
                case "read" -> answer = HexFormat.of().formatHex(
                        map.asSlice(Long.parseLong(w[1]), Integer.parseInt(w[2])).toArray(ValueLayout.JAVA_BYTE));
                case "msync" -> Posix.msync(map, Posix.MS_SYNC);
                default -> answer = "unknown command " + w[0];
            }
            System.out.println(answer);
            System.out.flush();
        }
        Posix.munmap(map);
        Posix.close(fd);
    }
}
