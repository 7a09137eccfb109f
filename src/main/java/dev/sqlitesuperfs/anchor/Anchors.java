package dev.sqlitesuperfs.anchor;

import java.io.IOException;

/** Where a machine keeps its namespaces' freshness anchors: a local directory, or a command. */
public interface Anchors {

    /**
     * The anchor of the namespace with identifier {@code id} (8 to 128 letters and digits), which
     * records nothing yet if the namespace was never anchored here.
     *
     * @throws IOException when the anchor cannot be reached or read, or is damaged
     */
    Anchor open(String id) throws IOException;

    /** Where the anchors are, for messages. */
    String describe();

    /** Checks an identifier before it names anything. */
    static String checkedId(String id) {
        if (!id.matches("[A-Za-z0-9]{8,128}")) {
            throw new IllegalArgumentException("an anchor identifier has 8 to 128 letters and digits");
        }
        return id;
    }
}
