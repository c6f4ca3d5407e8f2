package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	long := strings.Repeat("a", MaxElementLen)
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"packs/3f/3f9a", true},
		{"a.b_c-D9/..x/.y/x..", true},
		{long, true},
		{long + "a", false},
		{strings.Repeat("abc/", MaxNameLen/4-1) + "abc", true}, // MaxNameLen-1 bytes
		{strings.Repeat("abc/", MaxNameLen/4) + "a", false},    // MaxNameLen+1 bytes
		{"", false},
		{"/abs", false},
		{"a/", false},
		{"a//b", false},
		{"../x", false},
		{"a/./b", false},
		{"a/..", false},
		{".", false},
		{"a b", false},
		{"a\\b", false},
		{"ä", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want an error wrapping ErrInvalidName", tt.name, err)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"packs/3f/3f9", true},
		{"a/.", true},
		{"a/..", true},
		{"/", false},
		{"/a", false},
		{"a//", false},
		{"../", false},
		{"a/./", false},
		{"a b", false},
	}
	for _, tt := range tests {
		err := ValidPrefix(tt.prefix)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidPrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidPrefix(%q) = %v, want an error wrapping ErrInvalidName", tt.prefix, err)
		}
	}
}
