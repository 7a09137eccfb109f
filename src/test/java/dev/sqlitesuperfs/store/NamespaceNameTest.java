package dev.sqlitesuperfs.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamespaceNameTest {

    @ParameterizedTest
    @ValueSource(strings = {"a", "app", "app_1", "z9_", "a23456789012345678901234567890123456789012345678901234567890123"})
    void acceptsLowerCaseIdentifiersUpTo63Characters(String name) {
        assertThat(NamespaceName.parse(name).value()).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "A", "App", "1app", "_app", "app-1", "app.x", "a b", "café", "a\"; drop table x; --",
            "a\0", "a234567890123456789012345678901234567890123456789012345678901234", "pg_catalog", "pg_x",
            "x;drop schema public cascade", "x'--", "x\nx", "x\\x", "ｘ"})
    void rejectsEverythingElseWithTheRule(String name) {
        assertThatThrownBy(() -> NamespaceName.parse(name))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lower-case ASCII letter followed by lower-case letters, digits or '_'")
                .hasMessageContaining("at most 63");
    }

    @Test
    void isQuotedAsAnIdentifier() {
        assertThat(NamespaceName.parse("app_1").quoted()).isEqualTo("\"app_1\"");
        assertThat(NamespaceSql.quoteIdentifier("we\"ird")).isEqualTo("\"we\"\"ird\"");
    }
}
