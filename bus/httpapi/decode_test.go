package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeBatch checks the batch reader against encoding/json and
// against reading each element alone: for any body, it refuses what
// unmarshalling into []json.RawMessage refuses (and null, which
// encoding/json takes for an empty array), and it reads each element as
// decodeStructured reads that element's bytes.
func FuzzDecodeBatch(f *testing.F) {
	event := `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":[1,"]"]}}`
	for _, seed := range []string{
		`[]`, ` [ ] `, `[1]`, "[\n {\"a\": [1, {\"b\": \"],}\"}]} ,\t2 ]",
		`["\"", "\\", "\\\"]", {"x": "\\"}]`, `[[], {}, [[]], null, true, -1.5e3]`,
		`{"a": 1}`, `"x"`, `1`, `null`, `true`, `[1,]`, `[1 2]`, `[`, ``,
		"[" + event + "," + event + "]",
		"[" + event + ", {\"specversion\":\"1.0\",\"id\":\"a\\\"b\",\"source\":\"/s\",\"type\":\"t\"}]",
		"[" + event + ", {\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":1e400}]",
		"[{\"specversion\":\"1.0\",\"id\":\"\x01\",\"source\":\"/s\",\"type\":\"t\"}]",
		"[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":[1,}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []json.RawMessage
		wantErr := json.Unmarshal(body, &want)
		if wantErr == nil && string(bytes.TrimSpace(body)) == "null" {
			wantErr = errors.New("null")
		}
		if wantErr == nil && len(want) == 0 {
			wantErr = errors.New("the batch holds no events")
		}
		got, err := decodeBatch(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeBatch(%q) error %v; encoding/json: %v", body, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("decodeBatch(%q) read %d events, encoding/json finds %d elements", body, len(got), len(want))
		}
		for i, raw := range want {
			alone := decodeStructured(raw)
			if !reflect.DeepEqual(got[i], alone) {
				t.Errorf("decodeBatch(%q) event %d is\n%+v\nread alone, %s is\n%+v", body, i, got[i], raw, alone)
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
		err := notABatch([]byte(body))
		if err == nil || err.Error() != want {
			t.Errorf("notABatch(%s): %v, want %q", body, err, want)
		}
	}
}
