package viewcount

import (
	"strings"
	"testing"
)

func TestEncodeItemIsInjectiveAndTagSafe(t *testing.T) {
	t.Parallel()
	items := []string{"a", "A", "a/b", "a.b", "~YQ", "~", "a}", "{a}", "*", "a:b", "a b", "é", "[x]", "a\\b", ""}
	seen := map[string]string{}
	for _, it := range items {
		e := encodeItem(it)
		if prev, ok := seen[e]; ok {
			t.Fatalf("encodeItem(%q) = encodeItem(%q) = %q", it, prev, e)
		}
		seen[e] = it
		if strings.ContainsAny(e, "{}*?[]\\: ") {
			t.Errorf("encodeItem(%q) = %q: holds a tag, glob or separator character", it, e)
		}
	}
}
