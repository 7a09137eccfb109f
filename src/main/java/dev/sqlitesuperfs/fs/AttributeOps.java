package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.AttrReply;
import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.SetAttr;
import dev.sqlitesuperfs.fuse.StatFs;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sys.FileType;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Attributes of one inode and of the whole filesystem: getattr, setattr (mode, owner, size,
 * times), readlink, access, statfs.
 *
 * <p>Durability: chmod, chown and utimens of a file not open for writing commit before they
 * return (a change of ctime alone, which only the kernel makes, waits for the write-back). A new
 * size is data, stored with the file's written blocks at its next durability point (SQLite's
 * TRUNCATE journal mode truncates the journal and then syncs it: one transaction for both), and
 * so are timestamps the kernel hands back for a file open for writing (one SQLite commit stays
 * one transaction).
 */
final class AttributeOps {
    private static final Logger log = LoggerFactory.getLogger(AttributeOps.class);

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final WriteBuffer buffer;
    private final ExtendedAttributes xattrs;
    private final Replies replies;
    private final Space space;
    private final Tree tree;

    AttributeOps(FsConfig config, SealedStore store, NodeTable nodes, WriteBuffer buffer, ExtendedAttributes xattrs,
            Replies replies, Space space, Tree tree) {
        this.config = config;
        this.store = store;
        this.nodes = nodes;
        this.buffer = buffer;
        this.xattrs = xattrs;
        this.replies = replies;
        this.space = space;
        this.tree = tree;
    }

    AttrReply getattr(long ino) {
        return nodes.withNode(ino, false, replies::attrReply);
    }

    AttrReply setattr(Caller caller, long ino, SetAttr change) {
        return nodes.withNode(ino, true, n -> {
            setattrLocked(caller, n, change);
            return replies.attrReply(n);
        });
    }

    private void setattrLocked(Caller caller, Node n, SetAttr c) {
        if (log.isTraceEnabled()) {
            log.trace("setattr inode {}: valid {} size {} fh {}", n.ino, Integer.toBinaryString(c.valid()), c.size(),
                    c.fh());
        }
        long now = Clock.nowNs();
        Attrs a = Attrs.of(n);
        if (c.has(SetAttr.MODE)) {
            a.mode = (n.attrs.mode & FileType.MASK) | (c.mode() & 07777);
        }
        if (c.has(SetAttr.UID)) {
            a.uid = c.uid();
        }
        if (c.has(SetAttr.GID)) {
            a.gid = c.gid();
        }
        if (c.has(SetAttr.SIZE)) {
            if (n.isDir()) {
                throw new FuseException(Errno.EISDIR);
            }
            if (!n.isRegular()) {
                throw new FuseException(Errno.EINVAL);
            }
            if (c.size() < 0) {
                throw new FuseException(Errno.EINVAL);
            }
            if (c.size() > FsConfig.MAX_FILE_SIZE) {
                throw new FuseException(Errno.EFBIG);
            }
            a.size = c.size();
            a.mtimeNs = now;
        }
        if (c.has(SetAttr.ATIME_NOW)) {
            a.atimeNs = now;
        } else if (c.has(SetAttr.ATIME)) {
            a.atimeNs = c.atimeNs();
        }
        if (c.has(SetAttr.MTIME_NOW)) {
            a.mtimeNs = now;
        } else if (c.has(SetAttr.MTIME)) {
            a.mtimeNs = c.mtimeNs();
        }
        a.ctimeNs = c.has(SetAttr.CTIME) ? c.ctimeNs() : now;
        if (c.valid() == 0) {
            return;
        }
        config.requireWritable();
        boolean chown = c.has(SetAttr.UID) || c.has(SetAttr.GID);
        if (chown && !c.has(SetAttr.MODE)) {
            a.mode = PrivilegeDrop.afterChown(a.mode, n.attrs.gid, caller);
        }
        if (c.has(SetAttr.SIZE) && c.has(SetAttr.KILL_SUIDGID)) {
            a.mode = PrivilegeDrop.afterModification(a.mode, n.attrs.gid, caller);
        }
        if (n.removed) {
            // Unlinked and reclaimed, yet still known to the kernel: nothing left to store.
            a.applyTo(n);
            return;
        }
        boolean dropCapability = (chown || c.has(SetAttr.SIZE)) && xattrs.hasCapability(n);
        boolean onlyTimesChange = !c.has(SetAttr.SIZE) && !dropCapability && a.mode == n.attrs.mode && a.uid == n.attrs.uid
                && a.gid == n.attrs.gid;
        // Only ctime moves: nobody can set ctime, so this is the kernel's own bookkeeping, above
        // all the ctime it writes back inside every rename, link and unlink of a file (its
        // writeback cache keeps times). Stored at once, it was a second transaction in each.
        boolean onlyCtimeMoves = onlyTimesChange && a.atimeNs == n.attrs.atimeNs && a.mtimeNs == n.attrs.mtimeNs;
        if (onlyTimesChange && n.isRegular() && (c.has(SetAttr.FH) || n.writers > 0 || onlyCtimeMoves)) {
            // Only timestamps move (the kernel handing back times from its writeback cache, or a
            // chown to the same owner, as SQLite does to each new journal when run as root), on a
            // file open for writing, or only ctime: stored with the file's next change or at the
            // write-back tick, so that one SQLite commit, or one rename, does not pay an extra
            // transaction for them.
            a.applyTo(n);
            buffer.timesChanged(n);
            return;
        }
        if (c.has(SetAttr.SIZE)) {
            buffer.resize(n, a.size, now);
            n.kernelSizeAhead = false;
            if (!dropCapability && a.mode == n.attrs.mode && a.uid == n.attrs.uid && a.gid == n.attrs.gid) {
                a.applyTo(n);
                buffer.timesChanged(n);
                return;
            }
        }
        xattrs.storeRow(n, a, dropCapability);
    }

    byte[] readlink(long ino) {
        return nodes.withNode(ino, true, n -> {
            if (!n.isSymlink()) {
                throw new FuseException(Errno.EINVAL);
            }
            if (n.symlinkTarget == null) {
                n.symlinkTarget = store.symlinkTarget(ino);
            }
            return n.symlinkTarget;
        });
    }

    void access(Caller caller, long ino, int mask) {
        nodes.withNode(ino, false, n -> {
            if ((mask & 2) != 0 && config.readOnly()) {
                throw new FuseException(Errno.EROFS);
            }
            if (!Permissions.allows(n.attrs.mode, n.attrs.uid, n.attrs.gid, caller, mask)) {
                throw new FuseException(Errno.EACCES);
            }
            return null;
        });
    }

    /**
     * Used blocks are the stored ones and those written data will add; the capacity is the quota,
     * else the free space where the local PostgreSQL keeps its data plus what is used, else what one
     * namespace can hold.
     */
    StatFs statfs() {
        long bs = config.blockSize();
        long used = Math.max(0, space.usedBlocks());
        OptionalLong hostFree = config.hostFreeBytes().get();
        long capacityBlocks;
        long freeBlocks;
        if (config.quotaBytes() > 0) {
            capacityBlocks = config.quotaBytes() / bs;
            freeBlocks = Math.max(0, capacityBlocks - used);
            if (hostFree.isPresent()) {
                freeBlocks = Math.min(freeBlocks, hostFree.getAsLong() / bs);
            }
        } else if (hostFree.isPresent()) {
            freeBlocks = hostFree.getAsLong() / bs;
            capacityBlocks = used + freeBlocks;
        } else {
            capacityBlocks = Math.max(used, FsConfig.MAX_FILE_SIZE / bs);
            freeBlocks = capacityBlocks - used;
        }
        long files = tree.inodeCount();
        return new StatFs(capacityBlocks, freeBlocks, freeBlocks, files + freeBlocks, freeBlocks, (int) bs,
                Name.MAX_LENGTH, (int) bs);
    }
}
