package dev.sqlitesuperfs.fuse;

/** A request whose bytes do not match the structure its opcode promises. */
final class MalformedRequestException extends RuntimeException {
    MalformedRequestException(String message) {
        super(message);
    }
}
