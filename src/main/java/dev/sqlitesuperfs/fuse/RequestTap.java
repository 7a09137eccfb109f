package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;

/** Sees every request exactly as read from /dev/fuse, before it is answered; used to record fixtures. */
@FunctionalInterface
interface RequestTap {
    /** @param request the request's bytes, valid only during the call */
    void requestRead(MemorySegment request);
}
