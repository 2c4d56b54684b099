package trace

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAppendStringIsJSON: the trace's own string encoder, fast path and
// escapes, says what encoding/json says, for seeded random texts of plain
// ASCII, escapes, HTML characters and broken UTF-8; in a page's script no
// <, > or & appears.
func TestAppendStringIsJSON(t *testing.T) {
	pieces := []string{"a", "Send(dest 1, tag 0, 8 B)", `"`, `\`, "\n", "\t", "\x01", "<", ">", "&", "</script>", "é", "\u2028", "\xff", "\xe2\x82", "日本"}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		var sb strings.Builder
		for n := rng.IntN(8); n > 0; n-- {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		want, _ := json.Marshal(s)
		var wantText string
		json.Unmarshal(want, &wantText)
		for _, html := range []bool{false, true} {
			enc := appendJSONString(nil, s, html)
			var got string
			if err := json.Unmarshal(enc, &got); err != nil || got != wantText {
				t.Fatalf("%q (html %v) encoded as %s, which reads %q, %v; want %q", s, html, enc, got, err, wantText)
			}
			if html && strings.ContainsAny(string(enc), "<>&") {
				t.Fatalf("%q encoded for a page as %s", s, enc)
			}
		}
	}
}
