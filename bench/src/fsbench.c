/*
 * File workloads for the benchmarks, timed here so that no shell or JVM is measured.
 * Prints key=value lines on stdout; any failed call ends the program with a message and status 1.
 *
 *   fsbench write FILE MIB       sequential 1 MiB writes, one fsync at the end (open to close)
 *   fsbench read FILE            sequential 1 MiB reads to the end (and the time from open to the
 *                                end of the first read)
 *   fsbench randread FILE OPS    4 KiB preads at random aligned offsets (readahead off)
 *   fsbench randwrite FILE OPS   4 KiB pwrite at a random aligned offset + fsync, OPS times
 *   fsbench meta DIR N           N files: create+close, stat (timed pass after one warm-up pass),
 *                                rename, unlink; microseconds per operation
 *
 * MB are 10^6 bytes. Random offsets come from a fixed-seed generator, so every target sees the
 * same sequence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define PAGE 4096

static void fail(const char *what, const char *path) {
    fprintf(stderr, "fsbench: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(char *buf, size_t n) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t r = next_random();
        memcpy(buf + i, &r, 8);
    }
}

static long positive(const char *s, const char *name) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0) {
        fprintf(stderr, "fsbench: %s must be a positive integer, not '%s'\n", name, s);
        exit(2);
    }
    return v;
}

static void seq_write(const char *path, long mib) {
    char *buf = aligned_alloc(PAGE, CHUNK);
    fill(buf, CHUNK);
    double start = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("open", path);
    for (long i = 0; i < mib; i++) {
        buf[0] = (char) i; /* no two chunks alike */
        for (size_t done = 0; done < CHUNK;) {
            ssize_t n = write(fd, buf + done, CHUNK - done);
            if (n < 0) fail("write", path);
            done += n;
        }
    }
    if (fsync(fd) != 0) fail("fsync", path);
    if (close(fd) != 0) fail("close", path);
    double s = now() - start;
    printf("bytes=%ld\nseconds=%.6f\nmbps=%.3f\n", mib * CHUNK, s, mib * (double) CHUNK / 1e6 / s);
}

static void seq_read(const char *path) {
    char *buf = aligned_alloc(PAGE, CHUNK);
    long total = 0;
    double start = now();
    double first = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("open", path);
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) fail("read", path);
        if (first == 0) first = now() - start;
        if (n == 0) break;
        total += n;
    }
    close(fd);
    double s = now() - start;
    printf("bytes=%ld\nseconds=%.6f\nmbps=%.3f\nfirst_byte_ms=%.3f\n", total, s, total / 1e6 / s, first * 1e3);
}

static void random_io(const char *path, long ops, int writing) {
    char *buf = aligned_alloc(PAGE, PAGE);
    fill(buf, PAGE);
    int fd = open(path, writing ? O_WRONLY : O_RDONLY);
    if (fd < 0) fail("open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) fail("fstat", path);
    long pages = st.st_size / PAGE;
    if (pages < 1) {
        fprintf(stderr, "fsbench: %s is smaller than 4 KiB\n", path);
        exit(1);
    }
    /* No readahead: each 4 KiB read should cost one 4 KiB read, on every filesystem. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    double start = now();
    for (long i = 0; i < ops; i++) {
        off_t off = (off_t) (next_random() % pages) * PAGE;
        ssize_t n = writing ? pwrite(fd, buf, PAGE, off) : pread(fd, buf, PAGE, off);
        if (n != PAGE) fail(writing ? "pwrite" : "pread", path);
        if (writing && fsync(fd) != 0) fail("fsync", path);
    }
    double s = now() - start;
    close(fd);
    printf("ops=%ld\nseconds=%.6f\nops_per_s=%.3f\n", ops, s, ops / s);
}

static void meta(const char *dir, long n) {
    size_t len = strlen(dir) + 32;
    char *a = malloc(len), *b = malloc(len);
    struct stat st;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        snprintf(a, len, "%s/f%07ld", dir, i);
        int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) fail("create", a);
        if (close(fd) != 0) fail("close", a);
    }
    double t1 = now();
    for (long i = 0; i < n; i++) {
        snprintf(a, len, "%s/f%07ld", dir, i);
        if (stat(a, &st) != 0) fail("stat", a);
    }
    double t2 = now();
    for (long i = 0; i < n; i++) {
        snprintf(a, len, "%s/f%07ld", dir, i);
        if (stat(a, &st) != 0) fail("stat", a);
    }
    double t3 = now();
    for (long i = 0; i < n; i++) {
        snprintf(a, len, "%s/f%07ld", dir, i);
        snprintf(b, len, "%s/r%07ld", dir, i);
        if (rename(a, b) != 0) fail("rename", a);
    }
    double t4 = now();
    for (long i = 0; i < n; i++) {
        snprintf(b, len, "%s/r%07ld", dir, i);
        if (unlink(b) != 0) fail("unlink", b);
    }
    double t5 = now();
    printf("files=%ld\ncreate_us=%.3f\nfirst_stat_us=%.3f\nstat_us=%.3f\nrename_us=%.3f\nunlink_us=%.3f\n", n,
           (t1 - t0) * 1e6 / n, (t2 - t1) * 1e6 / n, (t3 - t2) * 1e6 / n, (t4 - t3) * 1e6 / n, (t5 - t4) * 1e6 / n);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        seq_write(argv[2], positive(argv[3], "MIB"));
    } else if (argc == 3 && strcmp(argv[1], "read") == 0) {
        seq_read(argv[2]);
    } else if (argc == 4 && strcmp(argv[1], "randread") == 0) {
        random_io(argv[2], positive(argv[3], "OPS"), 0);
    } else if (argc == 4 && strcmp(argv[1], "randwrite") == 0) {
        random_io(argv[2], positive(argv[3], "OPS"), 1);
    } else if (argc == 4 && strcmp(argv[1], "meta") == 0) {
        meta(argv[2], positive(argv[3], "N"));
    } else {
        fprintf(stderr, "usage: fsbench write FILE MIB | read FILE | randread FILE OPS | randwrite FILE OPS | meta DIR N\n");
        return 2;
    }
    return 0;
}
