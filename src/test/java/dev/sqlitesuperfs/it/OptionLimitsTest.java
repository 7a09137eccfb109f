package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Sizes and durations out of range, given to the launcher ({@code ./sqlitesuperfs}) and to the
 * program itself ({@code java ... Main}, as the benchmarks and a packaged install run it): one line
 * on stderr that names the option and its value, exit code 2, and nothing from the JVM, which must
 * never be handed an option it dies of at start (it prints its own two lines on stdout and exits 1).
 */
class OptionLimitsTest {
    static final Duration DONE = Duration.ofSeconds(120);
    /** No server listens there: a value that got through would end in a database error (5), not 2. */
    static final Map<String, String> NOWHERE = Map.of("psql_url", "postgresql://nobody:x@127.0.0.1:1/none",
            "encryption_pass", "a passphrase");

    static String[] mountArgs(List<String> options) {
        List<String> args = new ArrayList<>(List.of("mount", "--db-timeout", "1"));
        args.addAll(options);
        args.add("limits");
        args.add("/nonexistent/sqlitesuperfs-limits");
        return args.toArray(String[]::new);
    }

    static void assertRefused(CliProcess p, String named) {
        assertThat(p.exitCode()).as("exit code\nstdout:\n%s\nstderr:\n%s", p.stdout(), p.stderr())
                .isEqualTo(ExitCode.USAGE.code());
        assertThat(p.stdout()).as("stdout, where the JVM puts its own start-up errors").isEmpty();
        assertThat(p.stderr().lines()).as(p.stderr()).hasSize(1);
        assertThat(p.stderr()).startsWith("sqlitesuperfs: ").contains(named).doesNotContain("Exception", "\tat ",
                "Error occurred during initialization of VM", "Invalid maximum heap size", "Java Virtual Machine");
    }

    /**
     * --cache-size and --write-buffer become the JVM's -Xmx: a heap larger than the machine is
     * refused by the launcher before the JVM starts, and by the program in the same words.
     */
    @Test
    void aHeapThatCannotFitInTheMachineIsRefusedBeforeTheJvmStartsAndByTheProgramAlike() {
        Map<List<String>, String> cases = new LinkedHashMap<>();
        cases.put(List.of("--cache-size", "100T"), "--cache-size 100T is too large");
        cases.put(List.of("--cache-size=100T"), "--cache-size 100T is too large");
        cases.put(List.of("--write-buffer", "30T"), "--write-buffer 30T is too large");
        cases.put(List.of("--cache-size", "1G", "--write-buffer", "5000000T"),
                "--write-buffer 5000000T is too large");
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            CliProcess launcher = CliProcess.startLauncher(NOWHERE, mountArgs(c.getKey()));
            launcher.waitFor(DONE);
            assertRefused(launcher, c.getValue());
            assertThat(launcher.stderr()).containsPattern("must fit in this machine's memory \\(\\d+ MiB\\)");
            CliProcess program = CliProcess.run(NOWHERE, DONE, mountArgs(c.getKey()));
            assertRefused(program, c.getValue());
            assertThat(program.stderr()).as("the program's message").isEqualTo(launcher.stderr());
        }
    }

    /**
     * A size too large for the shell's arithmetic becomes no JVM option at all (it once became
     * -Xmx with a negative number); the program then refuses it itself. A sane one becomes the heap.
     */
    @Test
    void aSizeBeyondTheShellsArithmeticBecomesNoJvmOptionAndTheProgramRefusesIt() {
        assertThat(Shell.run("bash", "-c", ". scripts/prereqs.sh && mount_heap_option mount"
                + " --cache-size 99999999999999T --write-buffer=99999999999999999999 ns dir")).isEmpty();
        assertThat(Shell.run("bash", "-c", ". scripts/prereqs.sh && mount_heap_option mount --cache-size 1G ns dir"))
                .isEqualTo("-Xmx1344m\n");
        CliProcess program = CliProcess.run(NOWHERE, DONE, mountArgs(List.of("--cache-size", "99999999999999T")));
        assertRefused(program, "--cache-size 99999999999999T is too large: the mount's Java heap (cache + 2 x write"
                + " buffer + 192 MiB) must fit in this machine's memory");
    }

    /** The other sizes and the durations: negative, zero where it makes no sense, too large, overflowing. */
    @Test
    void sizesAndDurationsOutOfRangeAreOneLineAndAUsageError() {
        Map<List<String>, String> cases = new LinkedHashMap<>();
        cases.put(List.of("--quota", "-5"), "--quota: not a size: '-5' (a size cannot be negative)");
        cases.put(List.of("--quota", "99999999999999T"), "--quota: '99999999999999T' is too large (at most 8388607T)");
        cases.put(List.of("--cache-size", "-1"), "--cache-size: not a size: '-1'");
        cases.put(List.of("--write-buffer", "1K"), "--write-buffer must be at least 1048576 bytes");
        cases.put(List.of("--block-size", "99999999999999T"), "--block-size: '99999999999999T' is too large");
        cases.put(List.of("--cache-ttl", "-1"), "--cache-ttl needs a whole number from 0 to 86400, got '-1'");
        cases.put(List.of("--cache-ttl", "99999999999999999999"), "--cache-ttl needs a whole number from 0 to 86400");
        cases.put(List.of("--writeback-delay", "0"), "--writeback-delay needs a whole number from 1 to 3600, got '0'");
        cases.put(List.of("--writeback-delay", "3601"), "--writeback-delay needs a whole number from 1 to 3600");
        cases.put(List.of("--db-timeout", "-3"), "--db-timeout needs a whole number from 1 to 86400, got '-3'");
        cases.put(List.of("--db-timeout", "1e9"), "--db-timeout needs a whole number from 1 to 86400, got '1e9'");
        cases.put(List.of("--threads", "100000"), "--threads needs a whole number from 1 to 256");
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            assertRefused(CliProcess.run(NOWHERE, DONE, mountArgs(c.getKey())), c.getValue());
        }
    }
}
