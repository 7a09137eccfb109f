/**
 * PostgreSQL storage of namespaces: schema and migrations, SQL, transactions, the namespace lock.
 *
 * <p>Owns: one schema per namespace (only ever named as a quoted identifier, every value a bound
 * parameter), the single writer connection that holds the namespace's session lock and commits
 * {@link dev.sqlitesuperfs.store.ChangeSet}s in groups (each group's net effect as one statement),
 * deferred change sets that ride with the next commit in order, the pool of read connections,
 * retries of transient failures and the fencing that keeps two mounts from ever interleaving
 * writes; the server's catalog of namespaces (schema {@code sqlitesuperfs}, {@link
 * dev.sqlitesuperfs.store.Catalog}), kept in the transactions that create and upgrade them, and the
 * administration that needs no key (listing, exact usage, the stored quota, dropping). Checks
 * what it reads before handing it out: the server's version at connect, the metadata row against
 * its checksum and its format version against the tables ({@code MetaRow}), and a TLS failure is
 * reported as one, not retried as a lost connection.
 *
 * <p>Several servers (a primary and its standbys, in one URL): writes go to the primary; after a
 * failover the writer reconnects to whichever server is primary now, and refuses one that lacks a
 * commit confirmed to it ({@code ServerBehindException}: an old primary back, an asynchronous
 * standby promoted). {@link dev.sqlitesuperfs.store.Replication} says whether the server's commits
 * wait for a standby.
 *
 * <p>Moving a namespace between servers ({@link dev.sqlitesuperfs.store.NamespaceMove}): a copy in
 * one transaction from one snapshot, the switch-over and the freeing of the old copy, each a
 * transaction of its own; {@link dev.sqlitesuperfs.store.Placement} marks every copy that is not the
 * namespace, which opening refuses.
 *
 * <p>Knows nothing of POSIX rules or of cryptography: it stores rows, and payloads and
 * authenticators arrive sealed; the keyed step of a format upgrade gets them from its caller, and
 * each transaction's commit seal from its {@link dev.sqlitesuperfs.store.CommitSeals}, which it
 * also tells of every commit PostgreSQL confirmed (and of no other).
 * (The metadata checksum is a plain SHA-256 with no key: a diagnosis of damage, not a defence.)
 */
package dev.sqlitesuperfs.store;
