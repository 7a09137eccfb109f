/**
 * A fleet: the PostgreSQL servers namespaces are spread over ({@link dev.sqlitesuperfs.fleet.Fleet}),
 * read from a fleet file. Finds the server that holds a namespace by asking every server's own
 * catalog (no fleet-wide catalog to fall out of step with the data), and chooses where a new one
 * goes. Sits beside {@code cli} and {@code host}, which use it to reach a namespace wherever it
 * lives; it knows the store's public catalog and placement only. Moving a namespace between servers
 * is the store's ({@code NamespaceMove}), driven by {@code ns move}, which checks the copy with the key.
 */
package dev.sqlitesuperfs.fleet;
