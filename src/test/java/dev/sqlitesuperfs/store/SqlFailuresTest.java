package dev.sqlitesuperfs.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;
import org.postgresql.util.ServerErrorMessage;

/**
 * Failures to connect, as the server words them, told in the program's words: who was refused by
 * which server and why; which of them are retried. The command line shows the same against the
 * real server (CommandLineTest.loginRefusalsSayWhatIsWrongInWords); the server's own messages for
 * the cases it cannot easily be brought to (max_connections, pg_hba.conf) are reproduced here.
 */
class SqlFailuresTest {
    static final DatabaseConfig CONFIG = DatabaseConfig.parse("postgresql://bob:secret@db.example.org:5433/appdb");
    static final NamespaceName NS = NamespaceName.parse("ns");

    /** What pgjdbc throws when the server ends the start-up with an error. */
    static PSQLException server(String state, String message) {
        return new PSQLException(new ServerErrorMessage("SFATAL\0VFATAL\0C" + state + "\0M" + message + "\0"));
    }

    static String explained(SQLException failure) {
        return SqlFailures.explainConnectFailure(CONFIG, failure).getMessage();
    }

    @Test
    void refusedLoginsNameTheServerTheUserAndTheReason() {
        assertThat(explained(server("28P01", "password authentication failed for user \"bob\"")))
                .isEqualTo("PostgreSQL at db.example.org:5433 refused user \"bob\": password authentication failed;"
                        + " the password is wrong or the user does not exist (SQLState 28P01)");
        assertThat(explained(server("28000", "no pg_hba.conf entry for host \"10.0.0.7\", user \"bob\", database"
                + " \"appdb\", no encryption"))).isEqualTo("PostgreSQL at db.example.org:5433 refused user \"bob\":"
                + " no pg_hba.conf entry lets it connect to database \"appdb\" from this host without TLS (SQLState 28000)");
        assertThat(explained(server("28000", "pg_hba.conf rejects connection for host \"10.0.0.7\", user \"bob\","
                + " database \"appdb\", SSL encryption"))).contains("refused user \"bob\": its pg_hba.conf rejects");
        assertThat(explained(server("28000", "role \"bob\" is not permitted to log in")))
                .contains("refused user \"bob\": the role may not log in (NOLOGIN)");
        assertThat(explained(server("28000", "role \"bob\" does not exist")))
                .contains("refused user \"bob\": no such role");
        assertThat(explained(server("28000", "Ident authentication failed for user \"bob\"")))
                .contains("refused user \"bob\": authentication failed (SQLState 28000)");
        assertThat(explained(new PSQLException("The server requested SCRAM-based authentication, but no password"
                + " was provided.", PSQLState.CONNECTION_REJECTED))).isEqualTo("PostgreSQL at db.example.org:5433"
                + " asks user \"bob\" for a password, and the database URL gives none (SQLState 08004)");
    }

    @Test
    void aMissingDatabaseOrPrivilegeIsSaidAsSuch() {
        assertThat(explained(server("3D000", "database \"appdb\" does not exist")))
                .isEqualTo("database \"appdb\" does not exist on PostgreSQL at db.example.org:5433 (SQLState 3D000)");
        assertThat(explained(server("42501", "permission denied for database \"appdb\"")))
                .isEqualTo("user \"bob\" may not connect to database \"appdb\" on PostgreSQL at db.example.org:5433:"
                        + " it lacks the CONNECT privilege (SQLState 42501)");
    }

    @Test
    void eachConnectionLimitIsNamed() {
        String full = "PostgreSQL at db.example.org:5433 has reached its connection limit (max_connections):"
                + " every connection slot is in use";
        assertThat(explained(server("53300", "sorry, too many clients already"))).isEqualTo(full + " (SQLState 53300)");
        assertThat(explained(server("53300", "remaining connection slots are reserved for non-replication superuser"
                + " connections"))).isEqualTo(full + ", but those reserved for superusers (SQLState 53300)");
        assertThat(explained(server("53300", "too many connections for role \"bob\"")))
                .isEqualTo("user \"bob\" has reached the connection limit of its role on PostgreSQL at"
                        + " db.example.org:5433; a mount uses up to 9 connections (SQLState 53300)");
        assertThat(explained(server("53300", "too many connections for database \"appdb\"")))
                .isEqualTo("database \"appdb\" on PostgreSQL at db.example.org:5433 has reached its own connection"
                        + " limit (SQLState 53300)");
    }

    @Test
    void otherFailuresAreLeftAsTheyAre() {
        PSQLException refused = new PSQLException("Connection to db.example.org:5433 refused. Check that the hostname"
                + " and port are correct", PSQLState.CONNECTION_UNABLE_TO_CONNECT);
        assertThat((Object) SqlFailures.explainConnectFailure(CONFIG, refused)).isSameAs(refused);
        PSQLException starting = server("57P03", "the database system is starting up");
        assertThat((Object) SqlFailures.explainConnectFailure(CONFIG, starting)).isSameAs(starting);
    }

    /**
     * A refused login is final, however wrapped (the read pool wraps it in its own timeout); a
     * full server heals as clients leave, so it is retried, and when retrying runs out it is
     * named, not called "unavailable".
     */
    @Test
    void onlyAFullServerIsRetriedAndWhenRetryingRunsOutItIsNamed() {
        SQLException password = SqlFailures.explainConnectFailure(CONFIG, server("28P01", "password authentication"
                + " failed for user \"bob\""));
        SQLException pooled = new SQLTransientConnectionException("sqlitesuperfs-read-ns - Connection is not"
                + " available, request timed out after 1500ms", "28P01", password);
        assertThat(SqlFailures.isTransient(pooled)).isFalse();
        assertThat(SqlFailures.describe("reading the metadata", NS, pooled).getMessage())
                .isEqualTo(password.getMessage());
        assertThat(SqlFailures.describeConnecting(NS, password).getMessage()).isEqualTo(password.getMessage());
        assertThat(SqlFailures.isTransient(SqlFailures.explainConnectFailure(CONFIG,
                server("3D000", "database \"appdb\" does not exist")))).isFalse();

        SQLException full = SqlFailures.explainConnectFailure(CONFIG, server("53300", "sorry, too many clients already"));
        SQLException fullPooled = new SQLTransientConnectionException("sqlitesuperfs-read-ns - Connection is not"
                + " available, request timed out after 1500ms", "53300", full);
        assertThat(SqlFailures.isTransient(full)).isTrue();
        assertThat(SqlFailures.isTransient(fullPooled)).isTrue();
        assertThat(SqlFailures.unavailable("reading the metadata in namespace ns", Duration.ofSeconds(3), fullPooled)
                .getMessage()).isEqualTo("reading the metadata in namespace ns failed for longer than 3 s: " + full.getMessage())
                .doesNotContain("unavailable");

        PSQLException down = new PSQLException("Connection to db.example.org:5433 refused. Check that the hostname"
                + " and port are correct", PSQLState.CONNECTION_UNABLE_TO_CONNECT);
        assertThat(SqlFailures.unavailable("opening namespace ns", Duration.ofSeconds(60),
                new SQLTransientConnectionException("pool timeout", "08001", down)).getMessage())
                .isEqualTo("opening namespace ns failed: PostgreSQL unavailable for longer than 60 s"
                        + " (Connection to db.example.org:5433 refused)");
    }

    @Test
    void otherFailuresInANamespaceSayWhatWasDoneWithoutGarbling() {
        assertThat(SqlFailures.describeConnecting(NS, server("XX000", "something broke")).getMessage())
                .isEqualTo("connecting to PostgreSQL for namespace ns failed: internal error (SQLState XX000)");
        assertThat(SqlFailures.describe("commit", NS, server("53100", "could not extend file")).getMessage())
                .isEqualTo("commit in namespace ns failed: disk full (SQLState 53100)");
    }
}
