package dev.sqlitesuperfs.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EpollTest {
    private static final int EAGAIN = 11;
    private static final int EBADF = 9;
    /** A token with bits set in all eight bytes: a token read from the wrong offset cannot match. */
    private static final long TOKEN = 0x1122_3344_5566_7788L;

    @TempDir
    Path dir;

    @Test
    void anEventFdIsReportedWithItsTokenWhileSignalledAndNotOnceDrained() throws Exception {
        try (Epoll epoll = Epoll.create(); EventFd wakeup = EventFd.create()) {
            Epoll.ReadyEvents ready = epoll.readyEvents(4);
            epoll.add(wakeup.fd(), Epoll.EPOLLIN, TOKEN);
            assertThat(epoll.await(ready, 0)).isZero();

            wakeup.signal();
            wakeup.signal();
            assertThat(epoll.await(ready, 0)).isEqualTo(1);
            assertThat(ready.token(0)).isEqualTo(TOKEN);
            assertThat(ready.events(0) & Epoll.EPOLLIN).isEqualTo(Epoll.EPOLLIN);
            assertThat(epoll.await(ready, 0)).as("level-triggered: still readable").isEqualTo(1);

            assertThat(wakeup.drain()).isEqualTo(2);
            assertThat(wakeup.drain()).isZero();
            assertThat(epoll.await(ready, 0)).isZero();
        }
    }

    @Test
    void aOneShotDescriptorIsReportedOnceUntilRearmed() throws Exception {
        try (Epoll epoll = Epoll.create(); EventFd wakeup = EventFd.create()) {
            Epoll.ReadyEvents ready = epoll.readyEvents(1);
            epoll.add(wakeup.fd(), Epoll.EPOLLIN | Epoll.EPOLLONESHOT, 7);
            wakeup.signal();
            assertThat(epoll.await(ready, 0)).isEqualTo(1);
            assertThat(epoll.await(ready, 0)).as("still readable, but disarmed").isZero();

            epoll.modify(wakeup.fd(), Epoll.EPOLLIN | Epoll.EPOLLONESHOT, TOKEN);
            assertThat(epoll.await(ready, 0)).isEqualTo(1);
            assertThat(ready.token(0)).isEqualTo(TOKEN);

            epoll.modify(wakeup.fd(), Epoll.EPOLLIN | Epoll.EPOLLONESHOT, TOKEN);
            epoll.remove(wakeup.fd());
            assertThat(epoll.await(ready, 0)).as("removed").isZero();
        }
    }

    @Test
    void aWaitingThreadWakesWhenAPipeBecomesReadable() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        // Opened for reading and writing, a FIFO needs no peer to open; the descriptor is both ends.
        int pipe = Libc.open(fifo.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try (Epoll epoll = Epoll.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(16);
            Epoll.setNonBlocking(pipe);
            Epoll.setNonBlocking(pipe);
            assertThatThrownBy(() -> Libc.read(pipe, buffer, buffer.byteSize()))
                    .as("an empty non-blocking pipe")
                    .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(EAGAIN));

            epoll.add(pipe, Epoll.EPOLLIN | Epoll.EPOLLONESHOT, TOKEN);
            Epoll.ReadyEvents ready = epoll.readyEvents(1);
            CompletableFuture<Long> woken = CompletableFuture.supplyAsync(() -> {
                try {
                    int count = epoll.await(ready, -1);
                    return count == 1 ? ready.token(0) : -1L;
                } catch (SysException e) {
                    throw new IllegalStateException(e);
                }
            });
            buffer.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 'x');
            Libc.write(pipe, buffer, 1);
            assertThat(woken.get(30, TimeUnit.SECONDS)).isEqualTo(TOKEN);
            assertThat(Libc.read(pipe, buffer, buffer.byteSize())).isEqualTo(1);
        } finally {
            Libc.close(pipe);
        }
    }

    @Test
    void controlErrorsNameTheOperationAndCarryTheErrno() throws Exception {
        try (Epoll epoll = Epoll.create()) {
            assertThatThrownBy(() -> epoll.add(987_654, Epoll.EPOLLIN, 1))
                    .isInstanceOfSatisfying(SysException.class, e -> {
                        assertThat(e.errno()).isEqualTo(EBADF);
                        assertThat(e.call()).isEqualTo("epoll_ctl(add 987654)");
                    });
        }
        assertThatThrownBy(() -> Epoll.setNonBlocking(987_654))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(EBADF));
    }

    @Test
    void theEventLayoutIsPackedOnX86AndAlignedOnArm() {
        assertThat(Epoll.eventLayout("amd64")).isEqualTo(new Epoll.EventLayout(12, 4));
        assertThat(Epoll.eventLayout("x86_64")).isEqualTo(new Epoll.EventLayout(12, 4));
        assertThat(Epoll.eventLayout("aarch64")).isEqualTo(new Epoll.EventLayout(16, 8));
    }

    @Test
    void otherArchitecturesAreRefusedRatherThanGuessed() {
        assertThatThrownBy(() -> Epoll.eventLayout("riscv64"))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("riscv64")
                .hasMessageContaining("amd64 (x86_64) and aarch64");
    }

    @Test
    void readyEventsNeedRoomForOne() throws IOException {
        try (Epoll epoll = Epoll.create()) {
            assertThatThrownBy(() -> epoll.readyEvents(0)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
