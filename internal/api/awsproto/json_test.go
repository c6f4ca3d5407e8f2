package awsproto

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDecoderStrings(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{`"plain"`, "plain", false},
		{`"esc \" \\ \/ \b \f \n \r \t"`, "esc \" \\ / \b \f \n \r \t", false},
		{`"\u00e9\u4e2d"`, "é中", false},
		{`"\ud83d\ude00"`, "😀", false},
		{`"\ud800 lone"`, "\ufffd lone", false},
		{"\"bad \xff utf8\"", "bad \ufffd utf8", false},
		{"\"esc and bad \\n \xff\"", "esc and bad \n \ufffd", false},
		{`"\x"`, "", true},
		{`"\u12"`, "", true},
		{"\"ctl \x01\"", "", true},
		{`"unterminated`, "", true},
		{`42`, "", true},
	}
	for _, tt := range tests {
		var d Decoder
		d.Reset([]byte(tt.in))
		got, err := d.String()
		if (err != nil) != tt.wantErr {
			t.Errorf("String(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("String(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecoderNumbers(t *testing.T) {
	tests := []struct {
		in      string
		bits    int
		want    int64
		wantErr bool
	}{
		{"0", 32, 0, false},
		{"-17", 32, -17, false},
		{"2147483647", 32, 2147483647, false},
		{"2147483648", 32, 0, true},
		{"9223372036854775807", 64, 9223372036854775807, false},
		{"9223372036854775808", 64, 0, true},
		{"12.0", 32, 12, false},
		{"1e3", 64, 1000, false},
		{"12.5", 32, 0, true},
		{"01", 32, 0, false}, // reads "0"; the trailing "1" is the caller's problem
		{"-", 32, 0, true},
		{"1.", 32, 0, true},
		{"1e", 32, 0, true},
		{`"12"`, 32, 0, true},
		{"true", 32, 0, true},
	}
	for _, tt := range tests {
		var d Decoder
		d.Reset([]byte(tt.in))
		var got int64
		var err error
		if tt.bits == 32 {
			var v int32
			v, err = d.Int32()
			got = int64(v)
		} else {
			got, err = d.Int64()
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("Int%d(%q): got error %v, want error %v", tt.bits, tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("Int%d(%q): got %d, want %d", tt.bits, tt.in, got, tt.want)
		}
	}
}

func TestDecoderTimestamp(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"1516925490", time.Unix(1516925490, 0), false},
		{"1516925490.087", time.Unix(1516925490, 87e6), false},
		{"1516925490.5", time.Unix(1516925490, 5e8), false},
		{"1.516925490087E9", time.Unix(1516925490, 87e6), false},
		{"-1.5", time.Unix(-2, 5e8), false},
		{`"2018-01-26T00:11:30.087Z"`, time.Unix(1516925490, 87e6), false},
		{`"2018-01-26T00:11:30Z"`, time.Unix(1516925490, 0), false},
		{`"1516925490"`, time.Unix(1516925490, 0), false},
		{`"yesterday"`, time.Time{}, true},
		{"1e300", time.Time{}, true},
		{"true", time.Time{}, true},
	}
	for _, tt := range tests {
		var d Decoder
		d.Reset([]byte(tt.in))
		got, err := d.Timestamp()
		if (err != nil) != tt.wantErr {
			t.Errorf("Timestamp(%s): got error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !got.Equal(tt.want) {
			t.Errorf("Timestamp(%s): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

// walk reads any value with the public API, the way generated code does.
func walk(d *Decoder) error {
	switch d.peek() {
	case '{':
		if err := d.BeginObject(); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, more, err := d.NextKey(first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := walk(d); err != nil {
				return err
			}
		}
	case '[':
		if err := d.BeginArray(); err != nil {
			return err
		}
		for i := 0; ; i++ {
			more, err := d.NextElem(i == 0)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := walk(d); err != nil {
				return err
			}
		}
	default:
		return d.Skip()
	}
}

func TestDecoderStructureAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"d"}`, ` { "a" : true , "b" : false } `,
		`{"a":1,}`, `{"a":1 "b":2}`, `{,"a":1}`, `[1,]`, `[,1]`, `[1 2]`, `{"a"}`, `{"a":}`, `{1:2}`,
		`[`, `{`, `{"a":[}`, `nul`, `tru`, `"x`, `[1]]`, `{"a":1}}`, `-`, `[-0.0e+5]`, `[01]`, `{"a":"\u00zz"}`,
		strings.Repeat("[", 600) + strings.Repeat("]", 600),
	}
	for _, doc := range docs {
		for _, useWalk := range []bool{false, true} {
			var d Decoder
			d.Reset([]byte(doc))
			var err error
			if useWalk {
				err = walk(&d)
			} else {
				err = d.Skip()
			}
			ok := err == nil && d.AtEnd()
			want := json.Valid([]byte(doc))
			if strings.HasPrefix(doc, strings.Repeat("[", 600)) {
				want = false // deeper than MaxJSONDepth
			}
			if ok != want {
				t.Errorf("walk=%v %.40q: got valid=%v (err %v), want %v", useWalk, doc, ok, err, want)
			}
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\n\r\t", "<tag>&amp;", "ünï中😀", "bad\xffutf8", "\u2028\u2029"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q): got %s, want %s", s, got, want)
		}
	}
}

func TestAppendEpochSeconds(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1516925490, 87e6), "1516925490.087"},
		{time.Unix(1516925490, 5e8), "1516925490.5"},
		{time.Unix(1516925490, 999_999_999), "1516925490.999"},
		{time.Unix(1516925490, 0), "1516925490"},
		{time.Unix(-2, 5e8), "-1.5"},
		{time.Unix(0, 0), "0"},
	}
	for _, tt := range tests {
		if got := string(AppendEpochSeconds(nil, tt.t)); got != tt.want {
			t.Errorf("AppendEpochSeconds(%v): got %s, want %s", tt.t, got, tt.want)
		}
		back, err := ParseEpochSeconds(tt.want)
		if err != nil || !back.Equal(tt.t.Truncate(time.Millisecond)) && tt.t.Unix() >= 0 {
			t.Errorf("ParseEpochSeconds(%s): got %v %v, want %v", tt.want, back, err, tt.t)
		}
	}
}

func TestParseTimestampForms(t *testing.T) {
	want := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	for _, s := range []string{"2023-11-14T22:13:20Z", "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.000000Z",
		"2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20", "1700000000", "Tue, 14 Nov 2023 22:13:20 GMT"} {
		got, err := ParseTimestamp(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTimestamp(%q): got %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "now", "2023-13-14T22:13:20Z", "2023-11-14 22:13:20"} {
		if _, err := ParseTimestamp(s); err == nil {
			t.Errorf("ParseTimestamp(%q): got no error", s)
		}
	}
}

func TestFieldErrorPaths(t *testing.T) {
	fe := InvalidError("RuleName", Show("x y", false), "must match pattern ^a$")
	fe = AtMember(AtIndex(fe, 0), "Rules")
	fe = AtMember(fe, "BackupPlan")
	if got, want := fe.(*FieldError).Message(), `Invalid value "x y" for BackupPlan.Rules[0].RuleName: must match pattern ^a$`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	m := AtMember(AtKey(MissingError("Name"), "k", false), "Metadata")
	if got, want := m.Error(), `Missing required parameter: Metadata["k"].Name`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	s := AtMember(AtKey(InvalidError("", Show("secret", true), "length must be at most 1"), "secret-key", true), "Tags")
	if got := s.Error(); strings.Contains(got, "secret") || !strings.Contains(got, "Tags[*]") {
		t.Errorf("got %q, want the key and value hidden", got)
	}
	k := AtMember(InvalidKey(CheckPattern("", "bad key", mustRe(`^[a-z]+$`), false)), "BackupOptions")
	if got, want := k.Error(), `Invalid value "bad key" for BackupOptions: map key must match pattern ^[a-z]+$`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := SerializationError("", "malformed JSON").Error(); got != "Cannot deserialize request: malformed JSON" {
		t.Errorf("got %q", got)
	}
}

func TestChecks(t *testing.T) {
	if err := CheckLen("N", "ab", 2, 50, false); err != nil {
		t.Errorf("got %v for a valid length", err)
	}
	if err := CheckLen("N", "é", 2, NoBound, false); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("got %v, want a min-length error counting runes", err)
	}
	if err := CheckLen("N", "ééé", NoBound, 3, false); err != nil {
		t.Errorf("got %v: lengths count characters, not bytes", err)
	}
	if err := CheckRange("MaxResults", 0, 1, 1000); err == nil || err.Error() != "Invalid value 0 for MaxResults: must be at least 1" {
		t.Errorf("got %v", err)
	}
	if err := CheckCount("L", 6, 0, 5); err == nil || !strings.Contains(err.Error(), "at most 5 elements") {
		t.Errorf("got %v", err)
	}
	long := Show(strings.Repeat("é", 200), false)
	if !strings.HasSuffix(long, `..."`) && !strings.HasSuffix(long, `"...`) {
		t.Errorf("got %q, want a truncated value", long)
	}
}

func mustRe(p string) *regexp.Regexp { return regexp.MustCompile(p) }
