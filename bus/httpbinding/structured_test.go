package httpbinding

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// AppendStructured writes a 1.0 event from its fields; a receiver must
// read from it what it reads from the SDK's MarshalJSON, for every
// attribute, every kind of data and every kind of extension value.
func TestAppendStructuredIsWhatTheSDKWrites(t *testing.T) {
	base := func(contentType string, data []byte) event.Event {
		e := event.New()
		e.SetID("id-1")
		e.SetSource("/src")
		e.SetType("t")
		if contentType != "" {
			e.SetDataContentType(contentType)
		}
		e.DataEncoded = data
		return e
	}
	full := base("application/json; charset=utf-8", []byte(`{"a":[1,"x"],"b":null}`))
	full.SetID("id \"1\" ü\n")
	full.SetSource("https://example.com/src?q=1&r=<2>")
	full.SetType("t\\x\u2028")
	full.SetSubject("sub\tject")
	full.SetTime(time.Date(2026, 3, 2, 8, 0, 0, 500, time.FixedZone("", -5*3600)))
	full.SetDataSchema("https://example.com/s")
	full.SetExtension("str", "v 1 \x01")
	full.SetExtension("num", 42)
	full.SetExtension("flag", true)
	full.SetExtension("when", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	full.SetExtension("ref", types.URIRef{})
	zeroTime := base("", nil)
	zeroTime.Context.(*event.EventContextV1).Time = &types.Timestamp{} // as "time":"0001-01-01T00:00:00Z" reads
	binary := base("application/octet-stream", []byte{0, 1, 2, 0xff})
	binary.DataBase64 = true
	for name, e := range map[string]event.Event{
		"every attribute":         full,
		"no data":                 base("", nil),
		"json data, no type":      base("", []byte(`[1,2]`)),
		"json type, odd spelling": base(" Application/JSON ;charset=utf-8", []byte(`{"k":"v"}`)),
		"text data":               base("text/plain", []byte("line \"1\"\nline 2 é")),
		"a +json type is text":    base("application/vnd.x+json", []byte(`{"k":1}`)),
		"cloudevents json type":   base("application/cloudevents+json", []byte(`{}`)),
		"base64 data":             binary,
		"zero time":               zeroTime,
	} {
		got, err := AppendStructured([]byte("prefix"), &e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got[:6]) != "prefix" {
			t.Fatalf("%s: the bytes before the event were not kept: %q", name, got)
		}
		want, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: MarshalJSON: %v", name, err)
		}
		var gotValue, wantValue map[string]any
		if err := json.Unmarshal(got[6:], &gotValue); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, got[6:])
		}
		if err := json.Unmarshal(want, &wantValue); err != nil {
			t.Fatalf("%s: the SDK's is not JSON: %v\n%s", name, err, want)
		}
		if !reflect.DeepEqual(gotValue, wantValue) {
			t.Errorf("%s:\n got %s\nwant %s", name, got[6:], want)
		}
	}
}
