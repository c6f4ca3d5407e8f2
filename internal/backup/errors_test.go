package backup

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorClassification(t *testing.T) {
	base := NotFoundf("backup vault %q not found", "v1")
	wrapped := fmt.Errorf("describe: %w", base)
	if got := KindOf(wrapped); got != KindNotFound {
		t.Errorf("KindOf(wrapped NotFound) = %v, want NotFound", got)
	}
	if !errors.Is(wrapped, ErrNotFound) {
		t.Errorf("errors.Is(wrapped, ErrNotFound) = false, want true")
	}
	if errors.Is(wrapped, ErrAlreadyExists) {
		t.Errorf("errors.Is(NotFound, ErrAlreadyExists) = true, want false")
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Message != `backup vault "v1" not found` {
		t.Errorf("errors.As message = %+v, want the formatted message", e)
	}
	if got := KindOf(io.EOF); got != KindInternal {
		t.Errorf("KindOf(io.EOF) = %v, want Internal", got)
	}
	if got := KindOf(nil); got != KindInternal {
		t.Errorf("KindOf(nil) = %v, want Internal", got)
	}
}

func TestErrorfWrapsCause(t *testing.T) {
	err := Errorf(KindUnavailable, "storage unreachable: %w", io.ErrUnexpectedEOF)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(cause) = false, want true")
	}
	if got, want := err.Error(), "Unavailable: storage unreachable: unexpected EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	lit := &Error{Kind: KindInternal, Message: "database failed", Err: io.ErrClosedPipe}
	if got, want := lit.Error(), "Internal: database failed: io: read/write on closed pipe"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestForField(t *testing.T) {
	tests := []struct {
		in   error
		want string
	}{
		{InvalidParameterf("bad"), "InvalidParameter: Invalid value for X: bad"},
		{MissingParameterf("empty"), "MissingParameter: Missing value for X: empty"},
		{NotFoundf("gone"), "NotFound: gone"},
		{io.EOF, "EOF"},
	}
	for _, tt := range tests {
		if got := ForField("X", tt.in).Error(); got != tt.want {
			t.Errorf("ForField(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if ForField("X", nil) != nil {
		t.Errorf("ForField(nil) != nil")
	}
}

func TestKindString(t *testing.T) {
	for k := KindInternal; k <= KindNotImplemented; k++ {
		if s := k.String(); s == "" || s[0] == 'K' {
			t.Errorf("Kind(%d).String() = %q, want a name", int(k), s)
		}
	}
	if got := Kind(99).String(); got != "Kind(99)" {
		t.Errorf("Kind(99).String() = %q", got)
	}
}
