package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A filesystem that records every call with its arguments and answers with canned results, for
 * checking what the dispatcher decoded. Byte-array arguments are recorded as given; segments are
 * recorded with their address and content, so tests can tell whether data was copied.
 */
class RecordingFilesystem implements FuseFilesystem {
    record Call(String method, List<Object> args) {
        Object arg(int index) {
            return args.get(index);
        }
    }

    /** A segment as the filesystem saw it. */
    record SegmentSeen(long address, long size, byte[] content) {}

    /** One directory record to hand to the sink. */
    record DirRecord(String name, long ino, int mode, long nextOffset, Entry entry) {}

    static final FileAttr FILE_ATTR = new FileAttr(42, 1234, 3, 1_700_000_000_123_456_789L,
            -1L, -1_500_000_000L, 0100644, 2, 1000, 1001, 0, 4096);

    final List<Call> calls = new ArrayList<>();
    Entry entry = new Entry(42, 7, FILE_ATTR, 1_500_000_000L, 2_000_000_001L);
    AttrReply attr = new AttrReply(FILE_ATTR, 3_250_000_000L);
    OpenResult open = new OpenResult(0x1122334455667788L, OpenResult.KEEP_CACHE);
    byte[] readData = "read-bytes".getBytes();
    Integer readResult;
    Integer writeResult;
    StatFs statfs = new StatFs(100, 50, 40, 1000, 900, 4096, 255, 512);
    byte[] xattrValue = "xattr-value".getBytes();
    List<byte[]> xattrNames = List.of("user.a".getBytes(), "user.bb".getBytes());
    List<DirRecord> directory = List.of();
    RuntimeException failAfterDirectory;
    byte[] linkTarget = "target/of/link".getBytes();
    long seekResult = 8192;
    RuntimeException failure;
    KernelConnection connection;

    Call last() {
        return calls.getLast();
    }

    void record(String method, Object... args) {
        calls.add(new Call(method, List.of(args)));
        if (failure != null) {
            throw failure;
        }
    }

    private static SegmentSeen seen(MemorySegment segment) {
        return new SegmentSeen(segment.address(), segment.byteSize(), segment.toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public void init(KernelConnection kernel, KernelChannel channel) {
        connection = kernel;
    }

    @Override
    public Entry lookup(Caller caller, long parent, byte[] name) {
        record("lookup", caller, parent, name);
        return entry;
    }

    @Override
    public void forget(long ino, long nlookup) {
        record("forget", ino, nlookup);
    }

    @Override
    public AttrReply getattr(Caller caller, long ino, long fh) {
        record("getattr", caller, ino, fh);
        return attr;
    }

    @Override
    public AttrReply setattr(Caller caller, long ino, SetAttr change) {
        record("setattr", caller, ino, change);
        return attr;
    }

    @Override
    public byte[] readlink(Caller caller, long ino) {
        record("readlink", caller, ino);
        return linkTarget;
    }

    @Override
    public Entry mknod(Caller caller, long parent, byte[] name, int mode, int rdev, int umask) {
        record("mknod", caller, parent, name, mode, rdev, umask);
        return entry;
    }

    @Override
    public Entry mkdir(Caller caller, long parent, byte[] name, int mode, int umask) {
        record("mkdir", caller, parent, name, mode, umask);
        return entry;
    }

    @Override
    public void unlink(Caller caller, long parent, byte[] name) {
        record("unlink", caller, parent, name);
    }

    @Override
    public void rmdir(Caller caller, long parent, byte[] name) {
        record("rmdir", caller, parent, name);
    }

    @Override
    public Entry symlink(Caller caller, long parent, byte[] name, byte[] target) {
        record("symlink", caller, parent, name, target);
        return entry;
    }

    @Override
    public void rename(Caller caller, long parent, byte[] name, long newParent, byte[] newName, int flags) {
        record("rename", caller, parent, name, newParent, newName, flags);
    }

    @Override
    public Entry link(Caller caller, long ino, long newParent, byte[] newName) {
        record("link", caller, ino, newParent, newName);
        return entry;
    }

    @Override
    public OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        record("open", caller, ino, flags);
        return open;
    }

    @Override
    public int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest) {
        record("read", caller, ino, fh, offset, size, dest.address(), dest.byteSize());
        int count = Math.min(size, readData.length);
        MemorySegment.copy(readData, 0, dest, ValueLayout.JAVA_BYTE, 0, count);
        return readResult != null ? readResult : count;
    }

    @Override
    public int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
        record("write", caller, ino, fh, offset, seen(data), writeFlags);
        return writeResult != null ? writeResult : (int) data.byteSize();
    }

    @Override
    public void flush(Caller caller, long ino, long fh, long lockOwner) {
        record("flush", caller, ino, fh, lockOwner);
    }

    @Override
    public void release(Caller caller, long ino, long fh, int flags) {
        record("release", caller, ino, fh, flags);
    }

    @Override
    public void fsync(Caller caller, long ino, long fh, boolean dataOnly) {
        record("fsync", caller, ino, fh, dataOnly);
    }

    @Override
    public OpenResult opendir(Caller caller, long ino, int flags) {
        record("opendir", caller, ino, flags);
        return open;
    }

    @Override
    public void readdir(Caller caller, long ino, long fh, long offset, DirSink sink) {
        record("readdir", caller, ino, fh, offset);
        List<Boolean> accepted = new ArrayList<>();
        for (DirRecord r : directory) {
            boolean added = sink.add(r.name().getBytes(), r.ino(), r.mode(), r.nextOffset());
            accepted.add(added);
        }
        calls.add(new Call("accepted", List.copyOf(accepted)));
        if (failAfterDirectory != null) {
            throw failAfterDirectory;
        }
    }

    @Override
    public void readdirplus(Caller caller, long ino, long fh, long offset, DirPlusSink sink) {
        record("readdirplus", caller, ino, fh, offset);
        List<Boolean> accepted = new ArrayList<>();
        for (DirRecord r : directory) {
            accepted.add(sink.add(r.name().getBytes(), r.entry(), r.nextOffset()));
        }
        calls.add(new Call("accepted", List.copyOf(accepted)));
        if (failAfterDirectory != null) {
            throw failAfterDirectory;
        }
    }

    @Override
    public void releasedir(Caller caller, long ino, long fh) {
        record("releasedir", caller, ino, fh);
    }

    @Override
    public void fsyncdir(Caller caller, long ino, long fh, boolean dataOnly) {
        record("fsyncdir", caller, ino, fh, dataOnly);
    }

    @Override
    public StatFs statfs(Caller caller, long ino) {
        record("statfs", caller, ino);
        return statfs;
    }

    @Override
    public void setxattr(Caller caller, long ino, byte[] name, byte[] value, int flags) {
        record("setxattr", caller, ino, name, value, flags);
    }

    @Override
    public byte[] getxattr(Caller caller, long ino, byte[] name) {
        record("getxattr", caller, ino, name);
        return xattrValue;
    }

    @Override
    public List<byte[]> listxattr(Caller caller, long ino) {
        record("listxattr", caller, ino);
        return xattrNames;
    }

    @Override
    public void removexattr(Caller caller, long ino, byte[] name) {
        record("removexattr", caller, ino, name);
    }

    @Override
    public void access(Caller caller, long ino, int mask) {
        record("access", caller, ino, mask);
    }

    @Override
    public CreateResult create(Caller caller, long parent, byte[] name, int mode, int umask, int flags) {
        record("create", caller, parent, name, mode, umask, flags);
        return new CreateResult(entry, open);
    }

    @Override
    public void fallocate(Caller caller, long ino, long fh, long offset, long length, int mode) {
        record("fallocate", caller, ino, fh, offset, length, mode);
    }

    @Override
    public long lseek(Caller caller, long ino, long fh, long offset, int whence) {
        record("lseek", caller, ino, fh, offset, whence);
        return seekResult;
    }
}
