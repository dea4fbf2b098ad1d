package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzArrayElements checks the batch splitter against encoding/json: for
// any body, it finds the same elements as unmarshalling into
// []json.RawMessage, and refuses what that refuses; and null, which
// encoding/json takes for an empty array.
func FuzzArrayElements(f *testing.F) {
	for _, seed := range []string{
		`[]`, ` [ ] `, `[1]`, "[\n {\"a\": [1, {\"b\": \"],}\"}]} ,\t2 ]",
		`["\"", "\\", "\\\"]", {"x": "\\"}]`, `[[], {}, [[]], null, true, -1.5e3]`,
		`{"a": 1}`, `"x"`, `1`, `null`, `true`, `[1,]`, `[1 2]`, `[`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []json.RawMessage
		wantErr := json.Unmarshal(body, &want)
		if wantErr == nil && string(bytes.TrimSpace(body)) == "null" {
			wantErr = errors.New("null")
		}
		got, err := arrayElements(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("arrayElements(%q) error %v; encoding/json: %v", body, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("arrayElements(%q) found %d elements, encoding/json %d: %q", body, len(got), len(want), got)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("arrayElements(%q) element %d is %q, encoding/json says %q", body, i, got[i], want[i])
			}
		}
	})
}

func TestABatchThatIsNotAnArraySaysWhatItIs(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"1"}`: "the body is a JSON object",
		` "x"`:       "the body is a JSON string",
		`null`:       "the body is a JSON null",
		`false`:      "the body is a JSON boolean",
		`-1`:         "the body is a JSON number",
	} {
		_, err := arrayElements([]byte(body))
		if err == nil || err.Error() != want {
			t.Errorf("arrayElements(%s): %v, want %q", body, err, want)
		}
	}
}
