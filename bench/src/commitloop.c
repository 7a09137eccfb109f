/*
 * The commit loop: N single-row INSERTs into a fresh table, each its own transaction, with
 * synchronous=FULL in the given journal mode, through libsqlite3 (no shell, no CLI parsing).
 *
 *   commitloop DB MODE N [READY GO]
 *
 * With READY and GO it creates the file READY once the database is set up and starts the loop
 * only when GO exists, so that several loops start together. Prints key=value lines; the start
 * and end are CLOCK_MONOTONIC nanoseconds, comparable between processes; p50_us and p99_us are
 * the median and 99th percentile of the commits' own times, in microseconds; max_us the slowest.
 *
 * Built against SQLCipher instead (bench/lib.sh's sqlcipher target), it keys the database with
 * the contents of $COMMITLOOP_KEY (PRAGMA key) before anything else, and refuses to run unkeyed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void check(int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "commitloop: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

/* The first column of the first row of SQL, as text. */
static char *one_value(const char *sql) {
    sqlite3_stmt *st;
    check(sqlite3_prepare_v2(db, sql, -1, &st, NULL), sql);
    check(sqlite3_step(st), sql);
    const unsigned char *v = sqlite3_column_text(st, 0);
    char *copy = strdup(v ? (const char *) v : "");
    sqlite3_finalize(st);
    return copy;
}

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *) a, y = *(const long long *) b;
    return x < y ? -1 : x > y;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: commitloop DB MODE N [READY GO]\n");
        return 2;
    }
    const char *mode = argv[2];
    long n = atol(argv[3]);
    if (n <= 0) {
        fprintf(stderr, "commitloop: N must be positive\n");
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "commitloop: open %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
#ifdef SQLITE_HAS_CODEC
    const char *key = getenv("COMMITLOOP_KEY");
    if (!key || !*key) {
        fprintf(stderr, "commitloop: built for SQLCipher, $COMMITLOOP_KEY must hold the key\n");
        return 2;
    }
    check(sqlite3_key(db, key, (int) strlen(key)), "key");
    free(one_value("SELECT count(*) FROM sqlite_master"));
#endif
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    char *got = one_value(sql);
    if (strcasecmp(got, mode) != 0) {
        fprintf(stderr, "commitloop: asked for journal_mode %s, got %s\n", mode, got);
        return 1;
    }
    check(sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL), "synchronous");
    if (strcmp(one_value("PRAGMA synchronous"), "2") != 0) {
        fprintf(stderr, "commitloop: synchronous is not FULL\n");
        return 1;
    }
    check(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL, NULL, NULL), "create table");
    sqlite3_stmt *insert;
    check(sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES (?)", -1, &insert, NULL), "prepare");

    if (argc == 6) {
        FILE *ready = fopen(argv[4], "w");
        if (!ready) {
            perror("commitloop: ready file");
            return 1;
        }
        fclose(ready);
        while (access(argv[5], F_OK) != 0) {
            usleep(1000);
        }
    }
    long long *took = malloc(n * sizeof *took);
    if (!took) {
        fprintf(stderr, "commitloop: out of memory\n");
        return 1;
    }
    long long start = now_ns();
    for (long i = 0; i < n; i++) {
        char row[32];
        int len = snprintf(row, sizeof row, "row %ld", i);
        long long before = now_ns();
        check(sqlite3_bind_text(insert, 1, row, len, SQLITE_TRANSIENT), "bind");
        check(sqlite3_step(insert), "insert");
        check(sqlite3_reset(insert), "reset");
        took[i] = now_ns() - before;
    }
    long long end = now_ns();
    qsort(took, n, sizeof *took, by_value);
    sqlite3_finalize(insert);
    char *count = one_value("SELECT count(*) FROM t");
    if (atol(count) != n) {
        fprintf(stderr, "commitloop: %s rows, expected %ld\n", count, n);
        return 1;
    }
    check(sqlite3_close(db), "close");
    double seconds = (end - start) / 1e9;
    printf("commits=%ld\nseconds=%.6f\ncommits_per_s=%.3f\nstart_ns=%lld\nend_ns=%lld\np50_us=%.1f\np99_us=%.1f\n"
           "max_us=%.1f\n", n, seconds, n / seconds, start, end, took[(n - 1) / 2] / 1e3,
           took[(n * 99 - 1) / 100] / 1e3, took[n - 1] / 1e3);
    return 0;
}
