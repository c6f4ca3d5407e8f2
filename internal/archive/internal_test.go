package archive

import "testing"

func TestLessPath(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"a", "b", true},
		{"b", "a", false},
		{"a/z", "b", true},    // everything under a comes before b
		{"a-x", "a/b", false}, // "a" < "a-x": a's subtree first
		{"a/b", "a-x", true},
		{"a", "a/b", true},
		{"a/b/c", "a/b/d", true},
		{"x", "x", false},
	} {
		if got := lessPath(tc.a, tc.b); got != tc.want {
			t.Errorf("lessPath(%q, %q): got %v want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
