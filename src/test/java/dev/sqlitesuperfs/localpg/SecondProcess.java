package dev.sqlitesuperfs.localpg;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Another process sharing a state directory: starts (or joins) the local server, prints its port,
 * and releases it when its standard input closes.
 */
public final class SecondProcess {

    private SecondProcess() {}

    public static void main(String[] args) throws IOException {
        LocalPostgres pg = LocalPostgres.start(Path.of(args[0]));
        System.out.println("port " + pg.port());
        System.out.flush();
        while (System.in.read() >= 0) {
            // Wait for the parent to close our input.
        }
        pg.release();
        System.out.println("released");
    }
}
