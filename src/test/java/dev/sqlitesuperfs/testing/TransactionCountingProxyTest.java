package dev.sqlitesuperfs.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The proxy that TransactionCountTest and DeferredChangesTest count with counts what commits, and only that. */
class TransactionCountingProxyTest {

    @Test
    void countsCommittedTransactionsAndNothingElse() throws Exception {
        String table = "\"proxy_" + TestPostgres.freshNamespace() + "\"";
        try (TransactionCountingProxy proxy = new TransactionCountingProxy(TestPostgres.server().port());
             Connection c = proxy.config(TestPostgres.config()).withApplicationName("sqlitesuperfs-test")
                     .dataSource("").getConnection();
             Statement s = c.createStatement()) {
            s.execute("SET jit = off");
            assertThat(proxy.transactions()).as("logging in, setting up the session").isZero();
            s.execute("CREATE TABLE " + table + " (x int)");
            s.execute("SELECT 1");
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO " + table + " VALUES (?)")) {
                insert.setInt(1, 1);
                insert.executeUpdate();
                assertThat(proxy.transactions()).as("three autocommit statements").isEqualTo(3);
                for (int i = 0; i < 5; i++) {
                    insert.setInt(1, i);
                    insert.addBatch();
                }
                insert.executeBatch();
                assertThat(proxy.transactions()).as("a batch").isEqualTo(4);
                c.setAutoCommit(false);
                insert.setInt(1, 7);
                insert.executeUpdate();
                s.execute("SELECT 2");
                assertThat(proxy.transactions()).as("an open transaction").isEqualTo(4);
                c.commit();
                assertThat(proxy.transactions()).as("BEGIN ... COMMIT").isEqualTo(5);
                insert.executeUpdate();
                c.rollback();
                c.setAutoCommit(true);
            }
            assertThat(proxy.transactions()).as("a rollback").isEqualTo(5);
            assertThatThrownBy(() -> s.execute("SELECT 1/0")).isInstanceOf(SQLException.class);
            assertThat(c.isValid(5)).isTrue();
            assertThat(proxy.transactions()).as("a failed statement and a validity check").isEqualTo(5);
            s.execute("DROP TABLE " + table);
            assertThat(proxy.transactions()).isEqualTo(6);
            assertThat(proxy.since(4)).extracting(TransactionCountingProxy.Committed::toString)
                    .containsExactly("sqlitesuperfs-test [BEGIN, INSERT 0 1, SELECT 1, COMMIT]", "sqlitesuperfs-test [DROP TABLE]");
            assertThat(proxy.writerTransactions()).as("none on a writer's connection").isZero();
            try (Connection writer = proxy.config(TestPostgres.config()).withApplicationName("test")
                    .dataSource(":ns:writer").getConnection();
                 Statement w = writer.createStatement()) {
                w.execute("SELECT 1");
            }
            assertThat(proxy.writerTransactions()).as("one on a connection named as a writer's").isEqualTo(1);
            assertThat(proxy.transactions()).isEqualTo(7);
        }
    }
}
