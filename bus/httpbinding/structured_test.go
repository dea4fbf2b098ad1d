package httpbinding

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unsafe"

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

// The shapes producers write are read without the SDK's decoder, as the
// SDK's decoder reads them, into events that keep none of the request.
func TestStructuredReaderReadsWhatProducersWrite(t *testing.T) {
	for name, raw := range map[string]string{
		"required only":     `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		"version last":      `{"id":"1","source":"/s","type":"t","specversion":"1.0"}`,
		"json data":         `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"a":[1,"x\"]}",{"b":null}],"c":-1.5}}`,
		"data first":        `{"data":[1,2],"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		"scalar data":       `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":12.5}`,
		"string data":       `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":"x\ny"}`,
		"literal data":      `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":true}`,
		"every attribute":   `{"specversion":"1.0","id":"1","source":"https://example.com/a?b=c","type":"t","subject":"s","time":"2026-12-06T10:00:00.5+01:00","datacontenttype":"text/json; charset=utf-8","dataschema":"https://example.com/s.json","data":{}}`,
		"extensions":        `{"specversion":"1.0","id":"1","source":"/s","type":"t","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tenant":"acme"}`,
		"spaces everywhere": " {\n\t\"specversion\" : \"1.0\" ,\r\n \"id\":\"1\", \"source\" :\"/s\",\"type\": \"t\" , \"data\" :  { \"a\" : [ 1 , 2 ] }  \n} ",
		"unicode":           "{\"specversion\":\"1.0\",\"id\":\"é-1\",\"source\":\"/s/ü\",\"type\":\"t.ß\",\"subject\":\"\u2028 raw\"}",
	} {
		body := []byte(raw)
		var sr StructuredReader
		got, ok := sr.Read(body)
		if !ok {
			t.Errorf("%s: left to the SDK's decoder", name)
			continue
		}
		assertReadAsSDK(t, body, got)
	}
}

// An event's data is the request's own bytes; appending to it must not
// write over what follows it in the request, such as the next event of a
// batch.
func TestAnEventsDataEndsWhereItsValueEnds(t *testing.T) {
	first := `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":[1]}`
	body := []byte(first + `,{"specversion":"1.0","id":"2","source":"/s","type":"t","data":[2]}`)
	var sr StructuredReader
	e, ok := sr.Read(body[:len(first)])
	if !ok {
		t.Fatal("left to the SDK's decoder")
	}
	_ = append(e.DataEncoded, "xxxxxxxx"...)
	if got := string(body[len(first):]); got != `,{"specversion":"1.0","id":"2","source":"/s","type":"t","data":[2]}` {
		t.Errorf("appending to the first event's data changed what follows it: %s", got)
	}
}

// Events of a batch that repeat the source, type or content type of the
// one before share its value, and read as the SDK reads them.
func TestStructuredReaderSharesWhatABatchRepeats(t *testing.T) {
	batch := []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":1}`,
		`{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/json","data":2}`,
		`{"specversion":"1.0","id":"3","source":"https://example.com/s?x=1","type":"u","datacontenttype":"text/json","data":3}`,
		`{"specversion":"1.0","id":"4","source":"/s","type":"t","data":4}`,
	}
	var sr StructuredReader
	var events []*event.Event
	for _, raw := range batch {
		e, ok := sr.Read([]byte(raw))
		if !ok {
			t.Fatalf("%s: left to the SDK's decoder", raw)
		}
		assertReadAsSDK(t, []byte(raw), e)
		events = append(events, e)
	}
	if unsafe.StringData(events[0].Type()) != unsafe.StringData(events[1].Type()) ||
		unsafe.StringData(events[0].DataContentType()) != unsafe.StringData(events[1].DataContentType()) {
		t.Error("the second event's type and content type are copies of the first's")
	}
	// Each event has a content type of its own to set through.
	first, second := events[0].Context.(*event.EventContextV1), events[1].Context.(*event.EventContextV1)
	if first.DataContentType == second.DataContentType {
		t.Error("the first two events share one content type pointer: setting one would set both")
	}
}

// What a StructuredReader reads is JSON, and the SDK's decoder reads it the
// same, whatever the reader read before; what it leaves, it leaves whole.
func FuzzStructuredReader(f *testing.F) {
	seeds := []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"x"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`,
		`{"specversion":"0.3","id":"1","source":"/s","type":"t"}`,
		`{"specversion":"1.0","specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","Ext":"x","ext":"y"}`,
		`{"specversion":"1.0","id":"a\"b","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","n":1,"b":true}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","time":""}`,
		`{"specversion":"1.0","id":"1","source":"::","type":"t","dataschema":"x"}`,
		`{"datacontenttype":"","specversion":"1.0","id":"1","source":"/s","type":"t","data":1}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1e400}`,
		`{"data":{"a":[-1E400, true, false]},"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"","type":"t"}`,
		`[{"specversion":"1.0"}]`, `{}`, `null`, `"x"`,
		"{\"specversion\":\"1.0\",\"id\":\"\t\",\"source\":\"/s\",\"type\":\"t\"}",
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":[1,]}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":01}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t"} x`,
	}
	for i, seed := range seeds {
		f.Add([]byte(seeds[0]), []byte(seed))
		f.Add([]byte(seed), []byte(seeds[(i+1)%len(seeds)]))
	}
	f.Fuzz(func(t *testing.T, before, raw []byte) {
		var sr StructuredReader
		for _, b := range [][]byte{before, raw} {
			got, ok := sr.Read(b)
			if !ok {
				continue
			}
			if !json.Valid(b) {
				t.Fatalf("read %q, which is not JSON", b)
			}
			assertReadAsSDK(t, b, got)
		}
	})
}

func assertReadAsSDK(t *testing.T, raw []byte, got *event.Event) {
	t.Helper()
	var want event.Event
	if err := want.UnmarshalJSON(raw); err != nil {
		t.Fatalf("read %s, which the SDK's decoder refuses: %v", raw, err)
	}
	if !reflect.DeepEqual(got.Context, want.Context) {
		t.Errorf("%s\ncontext %+v\n the SDK's %+v", raw, got.Context, want.Context)
	}
	if string(got.DataEncoded) != string(want.DataEncoded) || got.DataBase64 != want.DataBase64 {
		t.Errorf("%s\ndata %q (base64 %t)\nthe SDK's %q (base64 %t)", raw, got.DataEncoded, got.DataBase64, want.DataEncoded, want.DataBase64)
	}
}
