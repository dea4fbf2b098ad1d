package httpapi

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
)

// FuzzDecodeRequest feeds arbitrary headers and bodies to the ingress
// decoder in all three content modes: it must never panic, must give each
// event either an event or an error (a 4xx), and an event it accepts in
// binary mode must survive the way out: written as binary-mode headers, as
// to an HTTP target, and read back, it keeps its id, source and type.
func FuzzDecodeRequest(f *testing.F) {
	binary := "Ce-Specversion: 1.0\nCe-Id: 1\nCe-Source: /s\nCe-Type: t\n"
	for _, seed := range []struct{ contentType, headers, body string }{
		{"application/json", binary, `{"hi":1}`},
		{"text/plain", binary + "Ce-Myext: caf%C3%A9\nCe-Time: 2024-01-02T03:04:05Z\n", `x`},
		{"application/json", "Ce-Specversion: 0.3\nCe-Id: 1\n", ``},
		{"application/json", binary + "Ce-Bad%ZZ: x\nCe-Datacontenttype: a/b\n", ``},
		{mediaStructured, "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`},
		{mediaStructured + "; charset=utf-8", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC","ext":"v"}`},
		{mediaStructured, "", `{"specversion":"1.0","id":1}`},
		{mediaBatch, "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"id":2},"x",null]`},
		{mediaBatch, "", `[]`},
		{"application/cloudevents+xml", "", `<e/>`},
		{"", "", ``},
	} {
		f.Add(seed.contentType, seed.headers, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType, headerLines string, body []byte) {
		h := http.Header{}
		for line := range strings.SplitSeq(headerLines, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if ok && k != "" {
				h.Add(textproto.CanonicalMIMEHeaderKey(k), v)
			}
		}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		events, reqErr := decodeRequest(h, body)
		if reqErr != nil {
			if reqErr.status < 400 || reqErr.status > 499 {
				t.Fatalf("a request-level refusal with status %d: malformed input is the client's fault, a 4xx", reqErr.status)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("decodeRequest returned neither events nor an error: the request would be answered with nothing")
		}
		for i, d := range events {
			if (d.event == nil) == (d.err == nil) {
				t.Fatalf("event %d: event %v and error %v; want exactly one", i, d.event, d.err)
			}
			if d.err != nil && (d.err.status < 400 || d.err.status > 499) {
				t.Fatalf("event %d refused with status %d, want a 4xx", i, d.err.status)
			}
		}
		if !hasCloudEventsHeaders(h) || events[0].event == nil || strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "application/cloudevents") {
			return
		}
		if events[0].event.Validate() != nil {
			return // the bus refuses it: only accepted events go on to targets
		}
		e := events[0].event
		out := http.Header{}
		if err := httpbinding.Write(out, e); err != nil {
			t.Fatalf("an accepted event cannot be written in binary mode: %v", err)
		}
		back, err := httpbinding.Read(out, e.Data())
		if err != nil {
			t.Fatalf("an accepted event, written in binary mode, does not read back: %v\nheaders %v", err, out)
		}
		if back.ID() != e.ID() || back.Source() != e.Source() || back.Type() != e.Type() || !bytes.Equal(back.Data(), e.Data()) {
			t.Fatalf("binary round trip changed the event: %v became %v", e, back)
		}
	})
}
