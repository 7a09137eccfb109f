/**
 * PostgreSQL storage of namespaces: schema and migrations, SQL, transactions, the namespace lock.
 *
 * <p>Owns: one schema per namespace (only ever named as a quoted identifier, every value a bound
 * parameter), the single writer connection that holds the namespace's session lock and commits
 * {@link dev.sqlitesuperfs.store.ChangeSet}s in groups, the pool of read connections, retries of
 * transient failures and the fencing that keeps two mounts from ever interleaving writes.
 *
 * <p>Knows nothing of POSIX rules or of cryptography: it stores rows, and payloads arrive sealed.
 */
package dev.sqlitesuperfs.store;
