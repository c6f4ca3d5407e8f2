package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/api/awsproto"
	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func TestAPIErrorTable(t *testing.T) {
	cases := []struct {
		kind   backup.Kind
		code   string
		status int
	}{
		{backup.KindNotFound, "ResourceNotFoundException", 400},
		{backup.KindAlreadyExists, "AlreadyExistsException", 400},
		{backup.KindInvalidParameter, "InvalidParameterValueException", 400},
		{backup.KindMissingParameter, "MissingParameterValueException", 400},
		{backup.KindInvalidRequest, "InvalidRequestException", 400},
		{backup.KindConflict, "ConflictException", 400},
		{backup.KindLimitExceeded, "LimitExceededException", 400},
		{backup.KindInvalidResourceState, "InvalidResourceStateException", 400},
		{backup.KindUnavailable, "ServiceUnavailableException", 500},
		{backup.KindDependencyFailure, "DependencyFailureException", 500},
		{backup.KindNotImplemented, "NotImplementedException", 501},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			cause := errors.New("SELECT secret FROM internals")
			in := fmt.Errorf("wrapped: %w", &backup.Error{Kind: tc.kind, Message: "the message", Context: "7", Err: cause})
			got := apiError(in)
			var ae awsproto.Error
			if !errors.As(got, &ae) {
				t.Fatalf("got %T, want an awsproto.Error", got)
			}
			if ae.ErrorCode() != tc.code || ae.HTTPStatus() != tc.status {
				t.Errorf("got %s %d, want %s %d", ae.ErrorCode(), ae.HTTPStatus(), tc.code, tc.status)
			}
			d, ok := ae.(awsproto.Detailed)
			if !ok {
				t.Fatalf("%T does not implement awsproto.Detailed", ae)
			}
			if d.ErrorMessage() != "the message" {
				t.Errorf("got message %q, want %q", d.ErrorMessage(), "the message")
			}
			if strings.Contains(d.ErrorMessage(), "SELECT") || strings.Contains(fmt.Sprint(d.ErrorFields()), "SELECT") {
				t.Errorf("the cause leaked into the response: %q %v", d.ErrorMessage(), d.ErrorFields())
			}
			if tc.kind != backup.KindNotImplemented && d.ErrorFields()["Context"] != "7" {
				t.Errorf("got fields %v, want Context 7", d.ErrorFields())
			}
		})
	}

	ae := apiError(&backup.Error{Kind: backup.KindAlreadyExists, Message: "m", Arn: "arn:x", CreatorRequestID: "req"})
	var x *backupapi.AlreadyExistsException
	if !errors.As(ae, &x) || x.Arn != "arn:x" || x.CreatorRequestId != "req" {
		t.Errorf("got %#v, want AlreadyExistsException with Arn and CreatorRequestId", ae)
	}

	// Errors without a kind pass through (the handler answers 500
	// InternalFailure and logs them); AWS errors are kept.
	plain := errors.New("disk on fire")
	if got := apiError(plain); got != plain {
		t.Errorf("got %v, want the plain error unchanged", got)
	}
	internal := &backup.Error{Kind: backup.KindInternal, Message: "x"}
	if got := apiError(internal); got != error(internal) {
		t.Errorf("got %v, want the internal error unchanged", got)
	}
	modeled := backupapi.NewInvalidRequest("already modeled")
	if got := apiError(fmt.Errorf("ctx: %w", modeled)); got != error(modeled) {
		t.Errorf("got %v, want the modeled error", got)
	}
	if apiError(nil) != nil {
		t.Error("apiError(nil) is not nil")
	}
}

func TestNewChecksDeps(t *testing.T) {
	var store meta.Store = nilStore{}
	cases := []struct {
		name string
		d    Deps
		want string
	}{
		{"no store", Deps{AccountID: "111122223333", Regions: []string{"us-east-1"}, DefaultRegion: "us-east-1"}, "Store"},
		{"bad account", Deps{Store: store, AccountID: "1", Regions: []string{"us-east-1"}, DefaultRegion: "us-east-1"}, "AccountID"},
		{"no regions", Deps{Store: store, AccountID: "111122223333", DefaultRegion: "us-east-1"}, "Regions"},
		{"default not served", Deps{Store: store, AccountID: "111122223333", Regions: []string{"us-east-1"}, DefaultRegion: "eu-west-1"}, "DefaultRegion"},
	}
	for _, tc := range cases {
		if _, err := New(tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	s, err := New(Deps{Store: store, AccountID: "111122223333", Regions: []string{"us-east-1", "us-west-2"}, DefaultRegion: "us-east-1",
		CallerRegion: func(ctx context.Context) (string, bool) { r, ok := ctx.Value(regionKey{}).(string); return r, ok }})
	if err != nil {
		t.Fatal(err)
	}
	regions := []struct {
		ctx     context.Context
		want    string
		wantErr bool
	}{
		{context.Background(), "us-east-1", false},
		{context.WithValue(context.Background(), regionKey{}, "us-west-2"), "us-west-2", false},
		{context.WithValue(context.Background(), regionKey{}, "ap-south-1"), "", true},
	}
	for _, r := range regions {
		got, err := s.region(r.ctx)
		if got != r.want || (err != nil) != r.wantErr {
			t.Errorf("got region %q, %v; want %q, error %v", got, err, r.want, r.wantErr)
		}
	}
	// The default key is stable and per region.
	a, b := s.DefaultKeyARN("us-east-1"), s.DefaultKeyARN("us-east-1")
	if a != b || a == s.DefaultKeyARN("us-west-2") || !strings.HasPrefix(a, "arn:aws:kms:us-east-1:111122223333:key/") {
		t.Errorf("got default keys %s %s %s", a, b, s.DefaultKeyARN("us-west-2"))
	}
	if _, err := backup.ParseKMSKeyARN(a); err != nil {
		t.Errorf("default key %s does not parse: %v", a, err)
	}
}

type regionKey struct{}

// nilStore satisfies meta.Store for New's checks; it is never called.
type nilStore struct{ meta.Store }
