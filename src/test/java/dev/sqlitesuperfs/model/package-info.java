/**
 * Model-based testing: seeded random sequences of file operations applied to a mount and to a
 * directory on local disk (ext4, under {@code target/model-reference}) side by side, every answer
 * and every touched file compared after each step, the whole tree after every remount.
 *
 * <ul>
 *   <li>{@link dev.sqlitesuperfs.model.ModelTest}: a few seeds in the default suite; the long mode
 *       ({@code conformance/model-test.sh OPS [SEED]}, tagged slow) runs fresh namespaces of 10,000
 *       operations each. {@code -Dmodel.seed}, {@code -Dmodel.ops}, {@code -Dmodel.keep} (positions
 *       kept by shrinking) replay a failure exactly.</li>
 *   <li>{@link dev.sqlitesuperfs.model.ConcurrentModelTest}: threads racing on shared names, checked
 *       for what must hold whatever the interleaving.</li>
 *   <li>{@link dev.sqlitesuperfs.model.ModelFindingsTest}: what the model found, shrunk to a few calls.</li>
 * </ul>
 *
 * <p>Differences that are legitimate are normalised where they arise, each with its reason: the
 * roots' modes, directory sizes and positions, SEEK_DATA/SEEK_HOLE answers (checked against the
 * file's bytes instead), hole punching the mount does not offer, ext4's per-inode xattr space.
 */
package dev.sqlitesuperfs.model;
