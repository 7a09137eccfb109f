package dev.sqlitesuperfs.fleet;

import dev.sqlitesuperfs.store.Catalog;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.Placement;
import dev.sqlitesuperfs.store.StoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Pattern;

/**
 * The PostgreSQL servers a set of namespaces is spread over, as a fleet file lists them: one
 * server per line, its name and its URL, in the order placement breaks ties.
 *
 * <pre>
 * # NAME  URL
 * pg-a    postgresql://ssfs@10.0.0.1/ssfs
 * pg-b    postgresql://ssfs@10.0.0.2/ssfs?sslmode=verify-full
 * </pre>
 *
 * There is no catalog of the fleet beside the servers: each server's own catalog and schemas say
 * which namespaces it holds ({@link #locate} asks every server), so nothing can disagree with the
 * data. Names are what moves record ({@link Placement}): renaming a server in the file while a move
 * is unfinished makes that move unfinishable until the old name is back.
 */
public record Fleet(Path file, List<Server> servers) {

    /** One server of the fleet. */
    public record Server(String name, DatabaseConfig config) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** The fleet file's content is wrong: the message names the file and line. */
    public static final class BadFleetFile extends IllegalArgumentException {
        BadFleetFile(String message) {
            super(message);
        }
    }

    private static final Pattern SERVER_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");

    public Fleet {
        servers = List.copyOf(servers);
    }

    /**
     * Reads and checks a fleet file.
     *
     * @throws BadFleetFile when it cannot be read, names no server, or a line is wrong
     */
    public static Fleet read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BadFleetFile("fleet file " + file + ": cannot be read (" + e.getMessage() + ")");
        }
        Map<String, Server> servers = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = "fleet file " + file + " line " + (i + 1) + ": ";
            String[] fields = line.split("\\s+");
            if (fields.length != 2) {
                throw new BadFleetFile(where + "expected NAME URL");
            }
            if (!SERVER_NAME.matcher(fields[0]).matches()) {
                throw new BadFleetFile(where + "server name '" + fields[0] + "' is not 1 to 32 lower-case letters,"
                        + " digits, '-' or '_' (starting with a letter or digit)");
            }
            DatabaseConfig config;
            try {
                config = DatabaseConfig.parse(fields[1]);
            } catch (IllegalArgumentException e) {
                throw new BadFleetFile(where + e.getMessage());
            }
            if (servers.putIfAbsent(fields[0], new Server(fields[0], config)) != null) {
                throw new BadFleetFile(where + "server " + fields[0] + " is named twice");
            }
        }
        if (servers.isEmpty()) {
            throw new BadFleetFile("fleet file " + file + ": names no server");
        }
        return new Fleet(file, new ArrayList<>(servers.values()));
    }

    /** The same fleet, each server reached with {@code timeout} of retrying. */
    public Fleet withRetryTimeout(Duration timeout) {
        return new Fleet(file, servers.stream().map(s -> new Server(s.name(), s.config().withRetryTimeout(timeout)))
                .toList());
    }

    /** The server called {@code name}. */
    public Server server(String name) {
        return servers.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow(() -> new BadFleetFile(
                "server '" + name + "' is not in fleet file " + file + " (it has " + names() + ")"));
    }

    /** The servers' names, for messages. */
    public String names() {
        return String.join(", ", servers.stream().map(Server::name).toList());
    }

    /**
     * The server that holds namespace {@code name}, or empty when none does. Every server is asked
     * at once; the first that holds the namespace itself answers (there is never more than one: a
     * move makes its copy current only after marking the old one moved). When none does, every
     * server must have answered: a server that cannot be reached might hold it.
     *
     * @throws StoreException.NotCurrent  when a move of it stopped between its switch-over and its end
     * @throws StoreException.Unavailable when a server that might hold it cannot be reached
     */
    public Optional<Server> locate(NamespaceName name) {
        Map<Server, Placement> seen = survey(name, true);
        for (Map.Entry<Server, Placement> e : seen.entrySet()) {
            if (e.getValue().copy() == Placement.Copy.CURRENT) {
                return Optional.of(e.getKey());
            }
        }
        for (Map.Entry<Server, Placement> e : seen.entrySet()) {
            Placement p = e.getValue();
            if (p.copy() == Placement.Copy.MOVED) {
                throw new StoreException.NotCurrent("a move of namespace " + name + " from server " + e.getKey()
                        + " to server " + p.peer() + " did not finish; rerun `sqlitesuperfs ns move " + name
                        + " --to " + p.peer() + "`");
            }
        }
        for (Map.Entry<Server, Placement> e : seen.entrySet()) {
            if (e.getValue().copy() == Placement.Copy.INCOMING) {
                throw new StoreException.NotCurrent("namespace " + name + " exists only as an unfinished copy on server "
                        + e.getKey() + ", made by a move from server " + e.getValue().peer() + " which no longer holds"
                        + " it; see README (Moving a namespace)");
            }
        }
        return Optional.empty();
    }

    /**
     * What every server holds of namespace {@code name}, asked in parallel.
     *
     * @param untilCurrent stop at the first server that holds the namespace itself
     * @throws StoreException.Unavailable when a server cannot be reached (and, with
     *                                    {@code untilCurrent}, none holding it answered first)
     */
    public Map<Server, Placement> survey(NamespaceName name, boolean untilCurrent) {
        return askAll(untilCurrent ? p -> p.copy() == Placement.Copy.CURRENT : p -> false,
                catalog -> catalog.placement(name), null);
    }

    /**
     * Each server's namespaces (its catalog, brought up to date); a server that cannot be reached
     * within the fleet's retry timeout is left out and its failure put in {@code unreachable}.
     */
    public Map<Server, List<Catalog.Entry>> listAll(Map<Server, RuntimeException> unreachable) {
        return askAll(p -> false, Catalog::list, unreachable);
    }

    /** What one server said of a new namespace's name: what it holds of it, and how many namespaces it holds. */
    private record Answer(Placement placement, int namespaces) {}

    /**
     * The server a new namespace {@code name} goes to: {@code chosen}, or else the one holding the
     * fewest namespaces (the first listed of those). One question to every server, which must all
     * answer: a fleet that cannot be surveyed places nothing, and a name that is already in use
     * anywhere is refused.
     *
     * @throws StoreException.NamespaceExists when a server holds a namespace of that name, or a
     *                                        copy of one, or a tombstone of one moved elsewhere
     */
    public Server placeNew(NamespaceName name, Server chosen) {
        Map<Server, Answer> all = askAll(a -> false, catalog -> new Answer(catalog.placement(name),
                catalog.list().size()), null);
        for (Map.Entry<Server, Answer> e : all.entrySet()) {
            Placement p = e.getValue().placement();
            if (p.copy() != Placement.Copy.ABSENT && p.copy() != Placement.Copy.LEFT) {
                throw new StoreException.NamespaceExists("namespace " + name + " already exists (on server "
                        + e.getKey() + (p.copy() == Placement.Copy.CURRENT ? "" : ", " + p) + ")");
            }
        }
        Server best = chosen;
        for (Server s : servers) {
            if (chosen == null && (best == null || all.get(s).namespaces() < all.get(best).namespaces())) {
                best = s;
            }
        }
        if (all.get(best).placement().copy() == Placement.Copy.LEFT) {
            // a namespace of that name moved away from here once and is gone now: its tombstone goes
            try (Catalog catalog = Catalog.open(best.config())) {
                catalog.dropTombstone(name);
            }
        }
        return best;
    }

    /**
     * A new namespace {@code name}, made while holding the fleet-wide lock of its name (on the
     * fleet's first server): {@code create} gets the server {@link #placeNew} chose and makes the
     * namespace there. Two processes creating the same name at once do so one after the other, and
     * the second finds the first's namespace: refused ({@link StoreException.NamespaceExists}), or
     * with {@code joinExisting} handed to {@code create} where it is (a mount that creates its
     * namespace if it is missing). The first server must be reachable to create anything.
     */
    public <T> T createLocked(NamespaceName name, Server chosen, boolean joinExisting,
                              java.util.function.Function<Server, T> create) {
        try (Catalog first = Catalog.open(servers.getFirst().config());
                AutoCloseable locked = first.lockFleetName(name)) {
            if (joinExisting) {
                // made by another process while this one waited for the lock
                Optional<Server> made = locate(name);
                if (made.isPresent()) {
                    return create.apply(made.get());
                }
            }
            return create.apply(placeNew(name, chosen));
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new StoreException("releasing the fleet's lock of the name " + name + " failed: " + e.getMessage(), e);
        }
    }

    @FunctionalInterface
    private interface Question<T> {
        T ask(Catalog catalog);
    }

    @FunctionalInterface
    private interface Enough<T> {
        boolean test(T answer);
    }

    /**
     * Asks every server {@code question} in parallel (a virtual thread each), in the fleet's
     * order; returns early, with the answers so far, once one is {@code enough}. A server that
     * fails makes the whole question fail (its failure names it), unless {@code failures} is given:
     * then the failure goes there and the other answers are returned.
     */
    private <T> Map<Server, T> askAll(Enough<T> enough, Question<T> question, Map<Server, RuntimeException> failures) {
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        try {
            ExecutorCompletionService<Map.Entry<Server, T>> answers = new ExecutorCompletionService<>(threads);
            for (Server server : servers) {
                answers.submit(() -> {
                    try (Catalog catalog = Catalog.open(server.config())) {
                        return Map.entry(server, question.ask(catalog));
                    } catch (RuntimeException e) {
                        throw new ServerFailure(server, e);
                    }
                });
            }
            Map<Server, T> answered = new LinkedHashMap<>();
            RuntimeException failure = null;
            for (int i = 0; i < servers.size(); i++) {
                Future<Map.Entry<Server, T>> next = answers.take();
                try {
                    Map.Entry<Server, T> answer = next.get();
                    answered.put(answer.getKey(), answer.getValue());
                    if (enough.test(answer.getValue())) {
                        return ordered(answered);
                    }
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof ServerFailure f)) {
                        throw new StoreException("asking the fleet's servers failed: " + e.getCause(), e.getCause());
                    }
                    // an unreachable server is named: any of them might be the one that matters
                    RuntimeException cause = f.failure instanceof StoreException.Unavailable u
                            ? new StoreException.Unavailable("server " + f.server + " of the fleet: " + u.getMessage(),
                                    u.getCause())
                            : f.failure;
                    if (failures != null) {
                        failures.put(f.server, cause);
                    } else if (failure == null) {
                        failure = cause;
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
            return ordered(answered);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while asking the fleet's servers", e);
        } finally {
            // a server still connecting after an early answer is left to time out on its own
            threads.shutdownNow();
        }
    }

    /** A server's failure, with the server it came from. */
    private static final class ServerFailure extends RuntimeException {
        final Server server;
        final RuntimeException failure;

        ServerFailure(Server server, RuntimeException failure) {
            super(failure.getMessage(), failure, false, false);
            this.server = server;
            this.failure = failure;
        }
    }

    private <T> Map<Server, T> ordered(Map<Server, T> answered) {
        Map<Server, T> ordered = new LinkedHashMap<>();
        for (Server s : servers) {
            if (answered.containsKey(s)) {
                ordered.put(s, answered.get(s));
            }
        }
        return ordered;
    }
}
