package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.MemoryNamespaceStore.Fault;
import dev.sqlitesuperfs.store.MemoryNamespaceStore.Part;
import dev.sqlitesuperfs.store.MemoryNamespaceStore.Transaction;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer of a {@link MemoryNamespaceStore}, in the image of {@link CommitWriter}: commits and
 * deferred change sets in one queue, in the order made; whoever commits takes the queue's head as
 * a group (at most {@value #MAX_GROUP_SETS} sets) and applies it in one transaction until its own
 * set is done; a group refused for a real reason is tried again set by set, so that only the bad
 * set fails (a deferred one that fails alone fences the writer: every later commit fails, so that
 * nothing is stored after a change that is missing); PostgreSQL away past the
 * retry timeout fails the callers waiting and puts the deferred sets back at the queue's head;
 * fencing fails everything from then on. The failures are injected ({@link #failNext}); there are
 * no connections, retries or timeouts to model.
 */
final class MemoryCommitWriter {
    private static final Logger log = LoggerFactory.getLogger(MemoryCommitWriter.class);

    static final int MAX_GROUP_SETS = CommitWriter.MAX_GROUP_SETS;

    /** Applies one group's change sets in one transaction; a StoreException when it is refused. */
    @FunctionalInterface
    interface Storage {
        CommitResult apply(List<ChangeSet> sets);
    }

    /** A change set in the queue: a commit someone waits for, or deferred changes. */
    private static final class Pending implements NamespaceStore.Deferred {
        final ChangeSet changes;
        final boolean deferred;
        final long queuedAt = System.nanoTime() | 1;
        final CompletableFuture<CommitResult> result = new CompletableFuture<>();
        /** Taken into a transaction attempt (guarded by the queue); from then on it may be stored. */
        boolean taken;

        Pending(ChangeSet changes, boolean deferred) {
            this.changes = changes;
            this.deferred = deferred;
        }

        @Override
        public CompletableFuture<?> stored() {
            return result;
        }
    }

    private final String namespace;
    private final Storage storage;
    /** Guards everything below but the log; also guards {@link Pending#taken}. */
    private final Object queueLock = new Object();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private boolean closing;
    private volatile boolean fenced;
    private int faultsLeft;
    private Fault fault;
    private int failedAttempts;
    /** Held by whoever commits groups: the writer's leader. */
    private final ReentrantLock leader = new ReentrantLock();
    private final List<Transaction> transactions = new ArrayList<>();

    MemoryCommitWriter(String namespace, Storage storage) {
        this.namespace = namespace;
        this.storage = storage;
    }

    /** Queues {@code changes}, then leads until they are committed with everything before them. */
    CommitResult commit(ChangeSet changes) {
        Pending own = enqueue(changes, false);
        leader.lock();
        try {
            while (!own.result.isDone()) {
                runGroup(takeGroup());
            }
        } finally {
            leader.unlock();
        }
        try {
            return own.result.join();
        } catch (CompletionException e) {
            throw StoreException.rethrownHere(e.getCause());
        }
    }

    NamespaceStore.Deferred defer(ChangeSet changes) {
        return enqueue(changes, true);
    }

    NamespaceStore.Deferred deferAfter(NamespaceStore.Deferred earlier, ChangeSet changes) {
        synchronized (queueLock) {
            if (!(earlier instanceof Pending p) || p.taken) {
                return null;
            }
            Pending later = new Pending(changes, true);
            queue.addLast(later);
            return later;
        }
    }

    void flushDeferred() {
        if (oldestDeferred() != 0) {
            commit(new ChangeSet());
        }
    }

    long oldestDeferred() {
        synchronized (queueLock) {
            return queue.stream().filter(p -> p.deferred).mapToLong(p -> p.queuedAt).findFirst().orElse(0);
        }
    }

    /** Refuses new changes and commits everything queued, deferred changes included. */
    void close() {
        synchronized (queueLock) {
            closing = true;
        }
        leader.lock();
        try {
            List<Pending> group;
            while (!(group = takeGroup()).isEmpty()) {
                runGroup(group);
            }
        } finally {
            leader.unlock();
        }
    }

    /** The process dies: what is queued is lost; anyone still waiting on it is told it failed. */
    void crash() {
        List<Pending> lost;
        synchronized (queueLock) {
            closing = true;
            lost = new ArrayList<>(queue);
            queue.clear();
        }
        for (Pending p : lost) {
            p.result.completeExceptionally(new StoreException.Unavailable("the store crashed", null));
        }
    }

    void failNext(int count, Fault kind) {
        synchronized (queueLock) {
            faultsLeft = count;
            fault = kind;
        }
    }

    int failedAttempts() {
        synchronized (queueLock) {
            return failedAttempts;
        }
    }

    int queued() {
        synchronized (queueLock) {
            return queue.size();
        }
    }

    List<Transaction> transactions() {
        synchronized (transactions) {
            return List.copyOf(transactions);
        }
    }

    private Pending enqueue(ChangeSet changes, boolean deferred) {
        if (fenced) {
            throw new StoreException.Fenced("namespace " + namespace + " is now owned by another mount");
        }
        Pending p = new Pending(changes, deferred);
        synchronized (queueLock) {
            if (closing) {
                throw new IllegalStateException("the store of namespace " + namespace + " is closed");
            }
            queue.addLast(p);
        }
        return p;
    }

    /** The queue's head, as much as one group may hold. Called by the leader. */
    private List<Pending> takeGroup() {
        synchronized (queueLock) {
            List<Pending> group = new ArrayList<>();
            while (group.size() < MAX_GROUP_SETS && !queue.isEmpty()) {
                Pending p = queue.pollFirst();
                p.taken = true;
                group.add(p);
            }
            return group;
        }
    }

    /** Commits a group as {@code CommitWriter.process} does: whole, or else set by set. */
    private void runGroup(List<Pending> group) {
        StoreException failure = attempt(group);
        if (failure == null) {
            return;
        }
        if (group.size() == 1) {
            fail(group.getFirst(), failure);
            return;
        }
        for (Pending p : group) {
            StoreException alone = attempt(List.of(p));
            if (alone != null) {
                fail(p, alone);
            }
        }
    }

    /** One transaction; settles every caller except on a refusal, which it returns. */
    private StoreException attempt(List<Pending> group) {
        Fault injected = takeFault();
        if (injected == Fault.FENCED || fenced) {
            fenced = true;
            for (Pending p : group) {
                p.result.completeExceptionally(new StoreException.Fenced("namespace " + namespace
                        + " is now owned by another mount (injected)"));
            }
            return null;
        }
        if (injected == Fault.UNAVAILABLE) {
            failUnavailable(group);
            return null;
        }
        if (injected == Fault.REFUSED) {
            return new StoreException("commit to namespace " + namespace + " failed: refused (injected)");
        }
        if (group.stream().allMatch(p -> p.changes.isEmpty())) {
            group.forEach(p -> p.result.complete(CommitResult.EMPTY)); // nothing to send: no transaction
            return null;
        }
        CommitResult result;
        try {
            result = storage.apply(group.stream().map(p -> p.changes).toList());
        } catch (StoreException e) {
            return new StoreException("commit to namespace " + namespace + " failed: " + e.getMessage(), e);
        }
        synchronized (transactions) {
            transactions.add(new Transaction(transactions.size() + 1,
                    group.stream().map(p -> new Part(p.changes, p.deferred)).toList(), result));
        }
        for (Pending p : group) {
            p.result.complete(result);
        }
        return null;
    }

    /**
     * PostgreSQL away past the retry timeout: the callers waiting fail; deferred change sets go
     * back to the head of the queue for the next commit, except while closing, when they are lost.
     */
    private void failUnavailable(List<Pending> group) {
        List<Pending> back = new ArrayList<>();
        for (Pending p : group) {
            if (p.deferred && !closing) {
                back.add(p);
            } else {
                p.result.completeExceptionally(new StoreException.Unavailable("commit to namespace " + namespace
                        + " failed: PostgreSQL unavailable for longer than the retry timeout (injected)", null));
            }
        }
        synchronized (queueLock) {
            for (int i = back.size() - 1; i >= 0; i--) {
                queue.addFirst(back.get(i)); // still "taken": it may have reached storage, as far as anyone knows
            }
        }
    }

    private Fault takeFault() {
        synchronized (queueLock) {
            if (faultsLeft <= 0 || fault == null) {
                return null;
            }
            faultsLeft--;
            failedAttempts++;
            return fault;
        }
    }

    /** As CommitWriter.fail: a deferred change set refused for good fences the writer. */
    private void fail(Pending p, StoreException failure) {
        if (p.deferred) {
            log.error("Deferred changes to namespace {} could not be stored: {}; fenced", namespace,
                    failure.getMessage());
            fenced = true;
            p.result.completeExceptionally(new StoreException.Fenced("deferred changes could not be stored ("
                    + failure.getMessage() + ")"));
            return;
        }
        p.result.completeExceptionally(failure);
    }
}
