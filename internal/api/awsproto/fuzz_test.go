package awsproto

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecoderValidity checks that the Decoder accepts exactly the JSON
// documents encoding/json accepts (below MaxJSONDepth), both through Skip
// and through the object/array walk generated code uses.
func FuzzDecoderValidity(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e-3,"x\u00e9",true,null]}`, `[1,]`, `{"a" 1}`, `"\ud800"`, "\"\xff\"", `-0`, `01`, `{"a":{"b":{"c":[]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Count(string(data), "[")+strings.Count(string(data), "{") >= MaxJSONDepth {
			return
		}
		want := json.Valid(data)
		for _, useWalk := range []bool{false, true} {
			var d Decoder
			d.Reset(data)
			var err error
			if useWalk {
				err = walk(&d)
			} else {
				err = d.Skip()
			}
			if got := err == nil && d.AtEnd(); got != want {
				t.Fatalf("walk=%v %q: got valid=%v (err %v), want %v", useWalk, data, got, err, want)
			}
		}
	})
}

// FuzzAppendString checks AppendString against encoding/json and the
// Decoder's String against both.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f", "<&>", "\u2028", "\xff", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		got := AppendString(nil, s)
		if string(got) != string(want) {
			t.Fatalf("AppendString(%q): got %s, want %s", s, got, want)
		}
		var d Decoder
		d.Reset(got)
		back, err := d.String()
		var std string
		_ = json.Unmarshal(got, &std)
		if err != nil || back != std {
			t.Fatalf("String(%s): got %q, %v; want %q", got, back, err, std)
		}
	})
}
