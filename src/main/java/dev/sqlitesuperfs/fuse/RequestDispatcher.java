package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.fuse.Wire.AccessIn;
import dev.sqlitesuperfs.fuse.Wire.BatchForgetIn;
import dev.sqlitesuperfs.fuse.Wire.CreateIn;
import dev.sqlitesuperfs.fuse.Wire.EntryOut;
import dev.sqlitesuperfs.fuse.Wire.FallocateIn;
import dev.sqlitesuperfs.fuse.Wire.FlushIn;
import dev.sqlitesuperfs.fuse.Wire.ForgetIn;
import dev.sqlitesuperfs.fuse.Wire.ForgetOne;
import dev.sqlitesuperfs.fuse.Wire.FsyncIn;
import dev.sqlitesuperfs.fuse.Wire.GetattrIn;
import dev.sqlitesuperfs.fuse.Wire.GetxattrIn;
import dev.sqlitesuperfs.fuse.Wire.GetxattrOut;
import dev.sqlitesuperfs.fuse.Wire.InitIn;
import dev.sqlitesuperfs.fuse.Wire.LinkIn;
import dev.sqlitesuperfs.fuse.Wire.LkIn;
import dev.sqlitesuperfs.fuse.Wire.LkOut;
import dev.sqlitesuperfs.fuse.Wire.LseekIn;
import dev.sqlitesuperfs.fuse.Wire.LseekOut;
import dev.sqlitesuperfs.fuse.Wire.MkdirIn;
import dev.sqlitesuperfs.fuse.Wire.MknodIn;
import dev.sqlitesuperfs.fuse.Wire.OpenIn;
import dev.sqlitesuperfs.fuse.Wire.ReadIn;
import dev.sqlitesuperfs.fuse.Wire.ReleaseIn;
import dev.sqlitesuperfs.fuse.Wire.Rename2In;
import dev.sqlitesuperfs.fuse.Wire.RenameIn;
import dev.sqlitesuperfs.fuse.Wire.SetattrIn;
import dev.sqlitesuperfs.fuse.Wire.SetxattrIn;
import dev.sqlitesuperfs.fuse.Wire.WriteIn;
import dev.sqlitesuperfs.fuse.Wire.WriteOut;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes one request, calls the filesystem and encodes its answer into the reply buffer. Stateless
 * apart from the INIT outcome, so every request thread shares one instance; each thread brings its
 * own buffers and {@link DirentWriter}.
 *
 * <p>READ hands the filesystem the reply buffer right after the reply header, and WRITE hands it
 * the request buffer's data, so file data is never copied here.
 */
final class RequestDispatcher {
    private static final Logger log = LoggerFactory.getLogger(RequestDispatcher.class);

    private static final int EPROTO = 71;
    /** The kernel refuses replies whose error is -512 or below (kernel-internal codes). */
    private static final int ERRNO_LIMIT = 512;
    private static final int BODY = Wire.OutHeader.SIZE;
    /** FUSE_OPEN_KILL_SUIDGID in fuse_open_in.open_flags. */
    private static final int OPEN_KILL_SUIDGID = 1;

    private final FuseFilesystem fs;
    private final MountOptions options;
    private final boolean readdirplus;
    /** Whether the filesystem takes POSIX locks (asked once: INIT tells the kernel). */
    private final boolean posixLocks;
    private volatile KernelConnection connection;
    private volatile String initFailure;
    private final RequestCounts counts = new RequestCounts();

    RequestDispatcher(FuseFilesystem fs, MountOptions options) {
        this.fs = fs;
        this.options = options;
        this.readdirplus = implementsReaddirplus(fs);
        this.posixLocks = fs.posixLocks();
    }

    /** The connection INIT settled, or null before a successful INIT. */
    KernelConnection connection() {
        return connection;
    }

    /** Requests handled, by opcode. */
    RequestCounts counts() {
        return counts;
    }

    /** Why INIT was refused, or null. */
    String initFailure() {
        return initFailure;
    }

    /**
     * Answers {@code request}, writing the reply from offset 0 of {@code reply}.
     *
     * @return the reply's length, or 0 when the kernel expects no reply
     */
    int dispatch(FuseRequest request, MemorySegment reply, DirentWriter dirents) {
        int opcode = request.opcode();
        try {
            return answer(opcode, request, reply, dirents);
        } finally {
            // after the filesystem: a count says it has done what the request asked
            counts.count(opcode);
        }
    }

    private int answer(int opcode, FuseRequest request, MemorySegment reply, DirentWriter dirents) {
        if (log.isTraceEnabled()) {
            log.trace("{} node {} unique {} pid {}", Opcode.name(opcode), request.nodeId(), request.unique(),
                    request.caller().pid());
        }
        try {
            return handle(opcode, request, reply, dirents);
        } catch (FuseException e) {
            if (log.isTraceEnabled()) {
                log.trace("{} node {} unique {}: errno {}", Opcode.name(opcode), request.nodeId(), request.unique(),
                        e.errno());
            }
            return Opcode.isOneWay(opcode) ? 0 : error(reply, request.unique(), e.errno());
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            logFailure(request, t, Opcode.isOneWay(opcode) ? "no reply is due" : "answering EIO");
            return Opcode.isOneWay(opcode) ? 0 : error(reply, request.unique(), Errno.EIO);
        }
    }

    /**
     * The kernel refused {@code reply} because the request was withdrawn meanwhile. Entries in it
     * never reached the kernel, so the lookups the filesystem counted for them are given back, as
     * the kernel would have done through FORGET.
     */
    void replyNotDelivered(FuseRequest request, MemorySegment reply, int length) {
        if (length <= BODY || Wire.u32(reply, Wire.OutHeader.ERROR) != 0) {
            return;
        }
        switch (request.opcode()) {
            case Opcode.LOOKUP, Opcode.MKNOD, Opcode.MKDIR, Opcode.SYMLINK, Opcode.LINK, Opcode.CREATE ->
                    giveBack(Wire.u64(reply, BODY + EntryOut.NODEID));
            case Opcode.READDIRPLUS -> {
                long at = BODY;
                while (at < length) {
                    int nameLength = Wire.u32(reply, at + Wire.DirentPlus.DIRENT + Wire.Dirent.NAMELEN);
                    if (!isDotOrDotDot(reply, at + Wire.DirentPlus.NAME, nameLength)) {
                        giveBack(Wire.u64(reply, at + EntryOut.NODEID));
                    }
                    at += Wire.direntPlusSize(nameLength);
                }
            }
            default -> { }
        }
    }

    private void giveBack(long nodeId) {
        if (nodeId == 0) {
            return;
        }
        try {
            fs.forget(nodeId, 1);
        } catch (RuntimeException e) {
            log.error("forgetting node {} after an undelivered reply failed", nodeId, e);
        }
    }

    private static boolean isDotOrDotDot(MemorySegment reply, long nameAt, int nameLength) {
        byte first = reply.get(ValueLayout.JAVA_BYTE, nameAt);
        return first == '.' && (nameLength == 1
                || nameLength == 2 && reply.get(ValueLayout.JAVA_BYTE, nameAt + 1) == '.');
    }

    private int handle(int opcode, FuseRequest r, MemorySegment reply, DirentWriter dirents) {
        if (connection == null && opcode != Opcode.INIT) {
            throw new MalformedRequestException(Opcode.name(opcode) + " before INIT");
        }
        return switch (opcode) {
            case Opcode.INIT -> init(r, reply);
            case Opcode.LOOKUP -> entry(r, reply, fs.lookup(r.caller(), r.nodeId(), r.name(0)), true);
            case Opcode.FORGET -> {
                fs.forget(r.nodeId(), r.u64(ForgetIn.NLOOKUP));
                yield 0;
            }
            case Opcode.BATCH_FORGET -> batchForget(r);
            case Opcode.GETATTR -> getattr(r, reply);
            case Opcode.SETATTR -> attr(r, reply, fs.setattr(r.caller(), r.nodeId(), setAttr(r)));
            case Opcode.READLINK -> readlink(r, reply);
            case Opcode.SYMLINK -> symlink(r, reply);
            case Opcode.MKNOD -> entry(r, reply, fs.mknod(r.caller(), r.nodeId(), r.name(MknodIn.SIZE),
                    r.u32(MknodIn.MODE), r.u32(MknodIn.RDEV), r.u32(MknodIn.UMASK)), false);
            case Opcode.MKDIR -> entry(r, reply, fs.mkdir(r.caller(), r.nodeId(), r.name(MkdirIn.SIZE),
                    r.u32(MkdirIn.MODE), r.u32(MkdirIn.UMASK)), false);
            case Opcode.UNLINK -> {
                fs.unlink(r.caller(), r.nodeId(), r.name(0));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.RMDIR -> {
                fs.rmdir(r.caller(), r.nodeId(), r.name(0));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.RENAME -> rename(r, reply, r.u64(RenameIn.NEWDIR), 0, RenameIn.SIZE);
            case Opcode.RENAME2 -> rename(r, reply, r.u64(Rename2In.NEWDIR), r.u32(Rename2In.FLAGS), Rename2In.SIZE);
            case Opcode.LINK -> entry(r, reply,
                    fs.link(r.caller(), r.u64(LinkIn.OLDNODEID), r.nodeId(), r.name(LinkIn.SIZE)), false);
            case Opcode.OPEN -> open(r, reply, fs.open(r.caller(), r.nodeId(), r.u32(OpenIn.FLAGS),
                    (r.u32(OpenIn.OPEN_FLAGS) & OPEN_KILL_SUIDGID) != 0));
            case Opcode.READ -> read(r, reply);
            case Opcode.WRITE -> write(r, reply);
            case Opcode.STATFS -> statfs(r, reply);
            case Opcode.RELEASE -> {
                fs.release(r.caller(), r.nodeId(), r.u64(ReleaseIn.FH), r.u32(ReleaseIn.FLAGS));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.FSYNC -> {
                fs.fsync(r.caller(), r.nodeId(), r.u64(FsyncIn.FH), dataOnly(r));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.SETXATTR -> setxattr(r, reply);
            case Opcode.GETXATTR -> getxattr(r, reply);
            case Opcode.LISTXATTR -> listxattr(r, reply);
            case Opcode.REMOVEXATTR -> {
                fs.removexattr(r.caller(), r.nodeId(), r.name(0));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.FLUSH -> {
                fs.flush(r.caller(), r.nodeId(), r.u64(FlushIn.FH), r.u64(FlushIn.LOCK_OWNER));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.OPENDIR -> open(r, reply, fs.opendir(r.caller(), r.nodeId(), r.u32(OpenIn.FLAGS)));
            case Opcode.READDIR -> readdir(r, reply, dirents, false);
            case Opcode.READDIRPLUS -> readdir(r, reply, dirents, true);
            case Opcode.RELEASEDIR -> {
                fs.releasedir(r.caller(), r.nodeId(), r.u64(ReleaseIn.FH));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.FSYNCDIR -> {
                fs.fsyncdir(r.caller(), r.nodeId(), r.u64(FsyncIn.FH), dataOnly(r));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.ACCESS -> {
                fs.access(r.caller(), r.nodeId(), r.u32(AccessIn.MASK));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.CREATE -> create(r, reply);
            case Opcode.FALLOCATE -> {
                fs.fallocate(r.caller(), r.nodeId(), r.u64(FallocateIn.FH), r.u64(FallocateIn.OFFSET),
                        r.u64(FallocateIn.LENGTH), r.u32(FallocateIn.MODE));
                yield ok(reply, r.unique(), 0);
            }
            case Opcode.LSEEK -> lseek(r, reply);
            case Opcode.GETLK, Opcode.SETLK, Opcode.SETLKW -> locks(r, reply);
            // Requests are not aborted midway: a filesystem call always runs to its end.
            case Opcode.INTERRUPT, Opcode.NOTIFY_REPLY -> 0;
            // The filesystem's destroy() belongs to the session's close(), which knows no request follows.
            case Opcode.DESTROY -> ok(reply, r.unique(), 0);
            default -> error(reply, r.unique(), Errno.ENOSYS);
        };
    }

    private int init(FuseRequest r, MemorySegment reply) {
        if (connection != null) {
            throw new MalformedRequestException("INIT after the connection was initialised");
        }
        int major = r.u32(InitIn.MAJOR);
        int minor = r.u32(InitIn.MINOR);
        if (major > InitNegotiation.MAJOR) {
            return ok(reply, r.unique(), InitNegotiation.putVersionOnly(reply, BODY));
        }
        if (major < InitNegotiation.MAJOR || minor < InitNegotiation.MIN_MINOR) {
            initFailure = "the kernel speaks FUSE protocol " + major + "." + minor + "; at least "
                    + InitNegotiation.MAJOR + "." + InitNegotiation.MIN_MINOR + " is needed";
            return error(reply, r.unique(), EPROTO);
        }
        long offered = Integer.toUnsignedLong(r.u32(InitIn.FLAGS));
        if ((offered & InitNegotiation.INIT_EXT) != 0 && r.bodyLength() >= InitIn.SIZE) {
            offered |= Integer.toUnsignedLong(r.u32(InitIn.FLAGS2)) << 32;
        }
        if (!readdirplus) {
            offered &= ~(KernelConnection.DO_READDIRPLUS | KernelConnection.READDIRPLUS_AUTO);
        }
        KernelConnection agreed = InitNegotiation.agree(minor, r.u32(InitIn.MAX_READAHEAD), offered, options,
                posixLocks);
        int length = ok(reply, r.unique(), InitNegotiation.putInitOut(reply, BODY, agreed));
        connection = agreed;
        return length;
    }

    private int batchForget(FuseRequest r) {
        long count = Integer.toUnsignedLong(r.u32(BatchForgetIn.COUNT));
        for (long i = 0; i < count; i++) {
            int at = (int) (BatchForgetIn.SIZE + i * ForgetOne.SIZE);
            long node = r.u64(at + ForgetOne.NODEID);
            long nlookup = r.u64(at + ForgetOne.NLOOKUP);
            try {
                fs.forget(node, nlookup);
            } catch (FuseException e) {
                // FORGET has no reply; an errno has nowhere to go.
            } catch (RuntimeException e) {
                log.error("BATCH_FORGET of node {} (nlookup {}) failed; the other nodes are still forgotten",
                        node, nlookup, e);
            }
        }
        return 0;
    }

    private int getattr(FuseRequest r, MemorySegment reply) {
        boolean withHandle = (r.u32(GetattrIn.GETATTR_FLAGS) & GetattrIn.FLAG_FH) != 0;
        long fh = withHandle ? r.u64(GetattrIn.FH) : -1;
        return attr(r, reply, fs.getattr(r.caller(), r.nodeId(), fh));
    }

    private static SetAttr setAttr(FuseRequest r) {
        return new SetAttr(
                r.u32(SetattrIn.VALID),
                r.u64(SetattrIn.FH),
                r.u64(SetattrIn.FILE_SIZE),
                Wire.toNanos(r.u64(SetattrIn.ATIME), r.u32(SetattrIn.ATIMENSEC)),
                Wire.toNanos(r.u64(SetattrIn.MTIME), r.u32(SetattrIn.MTIMENSEC)),
                Wire.toNanos(r.u64(SetattrIn.CTIME), r.u32(SetattrIn.CTIMENSEC)),
                r.u32(SetattrIn.MODE),
                r.u32(SetattrIn.UID),
                r.u32(SetattrIn.GID));
    }

    private int readlink(FuseRequest r, MemorySegment reply) {
        byte[] target = fs.readlink(r.caller(), r.nodeId());
        if (target == null || target.length == 0) {
            throw new IllegalStateException("filesystem returned an empty symlink target");
        }
        return bytes(r, reply, target);
    }

    private int symlink(FuseRequest r, MemorySegment reply) {
        byte[] name = r.name(0);
        byte[] target = r.name(name.length + 1);
        return entry(r, reply, fs.symlink(r.caller(), r.nodeId(), name, target), false);
    }

    private int rename(FuseRequest r, MemorySegment reply, long newParent, int flags, int namesAt) {
        byte[] name = r.name(namesAt);
        byte[] newName = r.name(namesAt + name.length + 1);
        fs.rename(r.caller(), r.nodeId(), name, newParent, newName, flags);
        return ok(reply, r.unique(), 0);
    }

    private int read(FuseRequest r, MemorySegment reply) {
        long requested = Integer.toUnsignedLong(r.u32(ReadIn.READ_SIZE));
        int size = (int) Math.min(requested, reply.byteSize() - BODY);
        MemorySegment dest = reply.asSlice(BODY, size);
        int count = fs.read(r.caller(), r.nodeId(), r.u64(ReadIn.FH), r.u64(ReadIn.OFFSET), size, dest);
        if (count < 0 || count > size) {
            throw new IllegalStateException("filesystem read returned " + count + " for a read of " + size);
        }
        return ok(reply, r.unique(), count);
    }

    private int write(FuseRequest r, MemorySegment reply) {
        int size = r.u32(WriteIn.WRITE_SIZE);
        if (size < 0) {
            throw new MalformedRequestException("WRITE of " + Integer.toUnsignedString(size) + " bytes");
        }
        MemorySegment data = r.slice(WriteIn.SIZE, size);
        int written = fs.write(r.caller(), r.nodeId(), r.u64(WriteIn.FH), r.u64(WriteIn.OFFSET), data,
                r.u32(WriteIn.WRITE_FLAGS));
        if (written < 0 || written > size) {
            throw new IllegalStateException("filesystem write returned " + written + " for a write of " + size);
        }
        Wire.putU32(reply, BODY + WriteOut.WRITTEN, written);
        Wire.putU32(reply, BODY + WriteOut.WRITTEN + 4, 0);
        return ok(reply, r.unique(), WriteOut.SIZE);
    }

    private int statfs(FuseRequest r, MemorySegment reply) {
        StatFs statfs = fs.statfs(r.caller(), r.nodeId());
        if (statfs == null) {
            throw new IllegalStateException("filesystem returned no statfs figures");
        }
        Wire.putStatfsOut(reply, BODY, statfs);
        return ok(reply, r.unique(), Wire.StatfsOut.SIZE);
    }

    private int setxattr(FuseRequest r, MemorySegment reply) {
        int valueSize = r.u32(SetxattrIn.VALUE_SIZE);
        byte[] name = r.name(SetxattrIn.SIZE);
        if (valueSize < 0) {
            throw new MalformedRequestException("SETXATTR value of " + Integer.toUnsignedString(valueSize) + " bytes");
        }
        byte[] value = r.copy(SetxattrIn.SIZE + name.length + 1, valueSize);
        fs.setxattr(r.caller(), r.nodeId(), name, value, r.u32(SetxattrIn.FLAGS));
        return ok(reply, r.unique(), 0);
    }

    private int getxattr(FuseRequest r, MemorySegment reply) {
        long bufferSize = Integer.toUnsignedLong(r.u32(GetxattrIn.BUFFER_SIZE));
        byte[] value = fs.getxattr(r.caller(), r.nodeId(), r.name(GetxattrIn.SIZE));
        if (value == null) {
            throw new IllegalStateException("filesystem returned a null xattr value");
        }
        return sizedAnswer(r, reply, bufferSize, value.length, value);
    }

    private int listxattr(FuseRequest r, MemorySegment reply) {
        long bufferSize = Integer.toUnsignedLong(r.u32(GetxattrIn.BUFFER_SIZE));
        List<byte[]> names = fs.listxattr(r.caller(), r.nodeId());
        if (names == null) {
            throw new IllegalStateException("filesystem returned a null xattr name list");
        }
        long total = 0;
        for (byte[] name : names) {
            if (name.length == 0 || indexOfNul(name) >= 0) {
                throw new IllegalStateException("filesystem listed an empty xattr name or one containing NUL");
            }
            total += name.length + 1L;
        }
        if (bufferSize == 0 || total > bufferSize || total > reply.byteSize() - BODY) {
            return sizedAnswer(r, reply, bufferSize, total, null);
        }
        long at = BODY;
        for (byte[] name : names) {
            MemorySegment.copy(name, 0, reply, ValueLayout.JAVA_BYTE, at, name.length);
            reply.set(ValueLayout.JAVA_BYTE, at + name.length, (byte) 0);
            at += name.length + 1L;
        }
        return ok(reply, r.unique(), (int) total);
    }

    /**
     * The xattr size protocol: a buffer size of 0 asks for the size only; a buffer too small is
     * ERANGE; otherwise the bytes themselves ({@code value}, or already written when null).
     */
    private int sizedAnswer(FuseRequest r, MemorySegment reply, long bufferSize, long size, byte[] value) {
        if (bufferSize == 0) {
            if (size > 0xffff_ffffL) {
                throw new FuseException(Errno.E2BIG);
            }
            Wire.putU32(reply, BODY + GetxattrOut.VALUE_SIZE, (int) size);
            Wire.putU32(reply, BODY + GetxattrOut.VALUE_SIZE + 4, 0);
            return ok(reply, r.unique(), GetxattrOut.SIZE);
        }
        if (size > bufferSize) {
            throw new FuseException(Errno.ERANGE);
        }
        if (size > reply.byteSize() - BODY) {
            throw new FuseException(Errno.E2BIG);
        }
        if (value != null) {
            MemorySegment.copy(value, 0, reply, ValueLayout.JAVA_BYTE, BODY, value.length);
        }
        return ok(reply, r.unique(), (int) size);
    }

    private int readdir(FuseRequest r, MemorySegment reply, DirentWriter dirents, boolean plus) {
        long fh = r.u64(ReadIn.FH);
        long offset = r.u64(ReadIn.OFFSET);
        long size = Integer.toUnsignedLong(r.u32(ReadIn.READ_SIZE));
        dirents.reset(reply, BODY, size);
        try {
            if (plus) {
                fs.readdirplus(r.caller(), r.nodeId(), fh, offset, dirents);
            } else {
                fs.readdir(r.caller(), r.nodeId(), fh, offset, dirents);
            }
        } catch (RuntimeException e) {
            if (dirents.bytesWritten() == 0) {
                throw e;
            }
            // Entries already accepted go out (for READDIRPLUS the filesystem has counted their
            // lookups); the failure surfaces when the kernel asks for the rest.
            if (!(e instanceof FuseException)) {
                logFailure(r, e, "sending the entries gathered before the failure");
            }
        }
        return ok(reply, r.unique(), dirents.bytesWritten());
    }

    private int create(FuseRequest r, MemorySegment reply) {
        CreateResult created = fs.create(r.caller(), r.nodeId(), r.name(CreateIn.SIZE), r.u32(CreateIn.MODE),
                r.u32(CreateIn.UMASK), r.u32(CreateIn.FLAGS));
        if (created == null || created.open() == null) {
            throw new IllegalStateException("filesystem returned an incomplete create result");
        }
        checkEntry(created.entry(), false);
        Wire.putEntryOut(reply, BODY, created.entry());
        Wire.putOpenOut(reply, BODY + EntryOut.SIZE, created.open());
        return ok(reply, r.unique(), EntryOut.SIZE + Wire.OpenOut.SIZE);
    }

    /** Only for a filesystem that takes POSIX locks; the kernel keeps them itself for any other. */
    private int locks(FuseRequest r, MemorySegment reply) {
        if (!posixLocks) {
            return error(reply, r.unique(), Errno.ENOSYS);
        }
        if (r.opcode() == Opcode.GETLK) {
            return getlk(r, reply);
        }
        fs.setlk(r.caller(), r.nodeId(), r.u64(LkIn.FH), r.u64(LkIn.OWNER), fileLock(r), r.opcode() == Opcode.SETLKW);
        return ok(reply, r.unique(), 0);
    }

    private int getlk(FuseRequest r, MemorySegment reply) {
        FileLock found = fs.getlk(r.caller(), r.nodeId(), r.u64(LkIn.FH), r.u64(LkIn.OWNER), fileLock(r));
        Wire.putU64(reply, BODY + LkOut.START, found.start());
        Wire.putU64(reply, BODY + LkOut.END, found.end());
        Wire.putU32(reply, BODY + LkOut.TYPE, found.type());
        Wire.putU32(reply, BODY + LkOut.PID, found.pid());
        return ok(reply, r.unique(), LkOut.SIZE);
    }

    private static FileLock fileLock(FuseRequest r) {
        if ((r.u32(LkIn.LK_FLAGS) & LkIn.FLAG_FLOCK) != 0) {
            // flock(2) locks stay in the kernel: FUSE_FLOCK_LOCKS is never negotiated
            throw new FuseException(Errno.ENOSYS);
        }
        return new FileLock(r.u64(LkIn.START), r.u64(LkIn.END), r.u32(LkIn.TYPE), r.u32(LkIn.PID));
    }

    private int lseek(FuseRequest r, MemorySegment reply) {
        long position = fs.lseek(r.caller(), r.nodeId(), r.u64(LseekIn.FH), r.u64(LseekIn.OFFSET),
                r.u32(LseekIn.WHENCE));
        Wire.putU64(reply, BODY + LseekOut.OFFSET, position);
        return ok(reply, r.unique(), LseekOut.SIZE);
    }

    private int entry(FuseRequest r, MemorySegment reply, Entry entry, boolean negativeAllowed) {
        checkEntry(entry, negativeAllowed);
        Wire.putEntryOut(reply, BODY, entry);
        return ok(reply, r.unique(), EntryOut.SIZE);
    }

    private static void checkEntry(Entry entry, boolean negativeAllowed) {
        if (entry == null) {
            throw new IllegalStateException("filesystem returned no entry");
        }
        if (entry.isNegative() && !negativeAllowed) {
            throw new IllegalStateException("filesystem returned a negative entry for a new name");
        }
        if (!entry.isNegative() && entry.attr() == null) {
            throw new IllegalStateException("filesystem returned an entry without attributes");
        }
    }

    private int attr(FuseRequest r, MemorySegment reply, AttrReply attr) {
        if (attr == null || attr.attr() == null) {
            throw new IllegalStateException("filesystem returned no attributes");
        }
        Wire.putAttrOut(reply, BODY, attr);
        return ok(reply, r.unique(), Wire.AttrOut.SIZE);
    }

    private int open(FuseRequest r, MemorySegment reply, OpenResult open) {
        if (open == null) {
            throw new IllegalStateException("filesystem returned no open result");
        }
        Wire.putOpenOut(reply, BODY, open);
        return ok(reply, r.unique(), Wire.OpenOut.SIZE);
    }

    private int bytes(FuseRequest r, MemorySegment reply, byte[] body) {
        if (body.length > reply.byteSize() - BODY) {
            throw new FuseException(Errno.E2BIG);
        }
        MemorySegment.copy(body, 0, reply, ValueLayout.JAVA_BYTE, BODY, body.length);
        return ok(reply, r.unique(), body.length);
    }

    private static boolean dataOnly(FuseRequest r) {
        return (r.u32(FsyncIn.FSYNC_FLAGS) & FsyncIn.FLAG_FDATASYNC) != 0;
    }

    private static int ok(MemorySegment reply, long unique, int bodyLength) {
        int length = BODY + bodyLength;
        Wire.putOutHeader(reply, length, 0, unique);
        return length;
    }

    private static int error(MemorySegment reply, long unique, int errno) {
        int sent = errno > 0 && errno < ERRNO_LIMIT ? errno : Errno.EIO;
        Wire.putOutHeader(reply, BODY, -sent, unique);
        return BODY;
    }

    private static void logFailure(FuseRequest r, Throwable t, String outcome) {
        try {
            log.error("{} failed (unique {}, nodeid {}, pid {}, uid {}); {}", Opcode.name(r.opcode()), r.unique(),
                    r.nodeId(), r.pid(), Integer.toUnsignedString(r.uid()), outcome, t);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable logging) {
            // The answer goes out even when logging cannot (a class it needs gone, a broken
            // appender): thrown from here, it left the request unanswered and the worker dead.
            System.err.println("sqlitesuperfs: " + Opcode.name(r.opcode()) + " failed (unique " + r.unique() + "): "
                    + t + "; " + outcome + "; logging it failed too: " + logging);
        }
    }

    private static int indexOfNul(byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    /** READDIRPLUS is only asked for when the filesystem answers it; the kernel has no fallback. */
    private static boolean implementsReaddirplus(FuseFilesystem fs) {
        try {
            return fs.getClass().getMethod("readdirplus", Caller.class, long.class, long.class, long.class,
                    DirPlusSink.class).getDeclaringClass() != FuseFilesystem.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }
}
