package dev.sqlitesuperfs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.StrictJson;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The --json encoder: what it writes reads back, strictly, as what was put in. */
class JsonTest {

    @Test
    void everyKindOfValueReadsBackStrictly() {
        String awkward = "quote \" backslash \\ slash / newline \n tab \t nul \0 bell \u0007 unit sep \u001f é ☃";
        Json.Obj inner = Json.object().put("n", null).put("yes", true);
        String text = Json.object()
                .put("s", awkward)
                .put("i", 42)
                .put("l", Long.MIN_VALUE)
                .put("d", 12.5)
                .put("list", List.of(1L, "two", inner))
                .put("empty", List.of())
                .put("o", inner)
                .toString();

        Map<String, Object> read = StrictJson.object(text);
        assertThat(read.keySet()).containsExactly("s", "i", "l", "d", "list", "empty", "o");
        assertThat(read.get("s")).isEqualTo(awkward);
        assertThat(read.get("i")).isEqualTo(42L);
        assertThat(read.get("l")).isEqualTo(Long.MIN_VALUE);
        assertThat(read.get("d")).isEqualTo(12.5);
        @SuppressWarnings("unchecked")
        List<Object> list = (List<Object>) read.get("list");
        assertThat(list).containsExactly(1L, "two", read.get("o"));
        @SuppressWarnings("unchecked")
        Map<String, Object> o = (Map<String, Object>) read.get("o");
        assertThat(o).containsEntry("yes", true).containsKey("n");
        assertThat(((Map<?, ?>) read.get("o")).get("n")).isNull();
        assertThat(text).doesNotContain("\n", "\0");
    }

    @Test
    void whatJsonCannotSayIsRefused() {
        assertThatThrownBy(() -> Json.object().put("x", Double.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.object().put("x", new Object())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.object().put("x", Arrays.asList(1L, new Object())))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theStrictReaderRefusesWhatIsNotJson() {
        for (String bad : List.of("{\"a\":1,}", "[1,]", "{a:1}", "{'a':1}", "01", "{\"a\":1} x", "\"raw\ttab\"",
                "{\"a\":1,\"a\":2}", "", "nul", "1.", "-")) {
            assertThatThrownBy(() -> StrictJson.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
