package viewcount

import (
	"strings"
	"testing"
)

// Item ids are user input: each one has its own keys, and none can leave
// its hash tag (choose another slot) or reach another item's keys.
func TestItemKeysAreInjectiveAndTagSafe(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxKeptItem+1)
	items := []string{"a", "A", "a/b", "a.b", "~YQ", "~", "a}", "{a}", "*", "a:b", "a b", "é", "[x]", "a\\b",
		"#a", long, long[:maxKeptItem], "a}:total"}
	k := keys{ns: "vc"}
	seen := map[string]string{}
	for _, it := range items {
		tag := k.item(it).tag
		inner, ok := strings.CutPrefix(tag, "vc:{")
		if !ok || !strings.HasSuffix(inner, "}") || strings.ContainsAny(inner[:len(inner)-1], "{}*?[]\\: ") {
			t.Errorf("item %q: got tag %q, want vc:{<part>} with no brace, glob or separator inside", it, tag)
		}
		if prev, ok := seen[tag]; ok {
			t.Fatalf("items %q and %q: got the same keys %q, want distinct", it, prev, tag)
		}
		seen[tag] = it
	}
}
