package bus_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

// Every attribute, extension and data byte a producer sends must reach the
// target unchanged, whatever content mode the producer used.
func TestEventsArriveIntactInEveryContentMode(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{Routes: []router.Route{route("all", hook.URL, "")}}).URL

	t.Run("binary", func(t *testing.T) {
		binaryData := "\x00\x01\xfe\xffnot utf-8 \xc3"
		resp, body := post(t, base+"/events", "application/octet-stream", map[string]string{
			"ce-specversion": "1.0",
			"ce-id":          "b-1",
			"ce-source":      "/tests/binary",
			"ce-type":        "test.binary",
			"ce-subject":     "subject 1",
			"ce-time":        "2026-11-26T10:00:00.123Z",
			"ce-dataschema":  "https://example.com/schema",
			"ce-traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"ce-comment":     "h%C3%A9llo%20w%22rld%25", // percent-encoded per the HTTP binding
		}, binaryData)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, body %s; want 202", resp.StatusCode, body)
		}
		d := hook.Next(t)
		want := map[string]string{
			"Ce-Specversion": "1.0", "Ce-Id": "b-1", "Ce-Source": "/tests/binary", "Ce-Type": "test.binary",
			"Ce-Subject": "subject%201", "Ce-Time": "2026-11-26T10:00:00.123Z", "Ce-Dataschema": "https://example.com/schema",
			"Ce-Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"Ce-Comment":     "h%C3%A9llo%20w%22rld%25",
			"Content-Type":   "application/octet-stream",
		}
		assertHeaders(t, d.Header, want)
		if !bytes.Equal(d.Body, []byte(binaryData)) {
			t.Errorf("data = %q, want %q byte for byte", d.Body, binaryData)
		}
	})

	t.Run("structured", func(t *testing.T) {
		event := `{"specversion":"1.0","id":"s-1","source":"/tests/structured","type":"test.structured",
			"subject":"s","time":"2026-11-26T10:00:00Z","datacontenttype":"application/json",
			"myext":"v1","data":{"plan":"pro","n":[1,2.5,{"deep":null}]}}`
		resp, body := post(t, base+"/events", "application/cloudevents+json; charset=utf-8", nil, event)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, body %s; want 202", resp.StatusCode, body)
		}
		d := hook.Next(t)
		assertHeaders(t, d.Header, map[string]string{
			"Ce-Specversion": "1.0", "Ce-Id": "s-1", "Ce-Source": "/tests/structured", "Ce-Type": "test.structured",
			"Ce-Subject": "s", "Ce-Time": "2026-11-26T10:00:00Z", "Ce-Myext": "v1", "Content-Type": "application/json",
		})
		assertSameJSON(t, d.Body, `{"plan":"pro","n":[1,2.5,{"deep":null}]}`)
	})

	t.Run("batch", func(t *testing.T) {
		batch := `[
			{"specversion":"1.0","id":"m-1","source":"/tests/batch","type":"test.batch","data_base64":"AAEC/w=="},
			{"specversion":"1.0","id":"m-2","source":"/tests/batch","type":"test.batch","datacontenttype":"text/plain","data":"plain text","ext2":"x"}
		]`
		resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil, batch)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, body %s; want 202", resp.StatusCode, body)
		}
		byID := map[string]bustest.Delivery{}
		for range 2 {
			d := hook.Next(t)
			byID[d.Header.Get("Ce-Id")] = d
		}
		if b := byID["m-1"].Body; !bytes.Equal(b, []byte{0, 1, 2, 0xff}) {
			t.Errorf("m-1 data = %v, want the decoded data_base64 bytes [0 1 2 255]", b)
		}
		if b := byID["m-2"].Body; string(b) != "plain text" {
			t.Errorf("m-2 data = %q, want %q", b, "plain text")
		}
		assertHeaders(t, byID["m-2"].Header, map[string]string{"Ce-Ext2": "x", "Content-Type": "text/plain"})
	})
}

// The 202 lists, per event, the routes that stored it.
func TestAcceptedEventsListTheirRoutes(t *testing.T) {
	hookURL := bustest.NewWebhook(t, nil).URL
	base := bustest.Start(t, bus.Config{Routes: []router.Route{
		route("pro-signups", hookURL, `{"type":["user.signed_up"],"data":{"plan":[{"prefix":"pro"}]}}`),
		route("all-signups", hookURL, `{"type":["user.signed_up"]}`),
	}}).URL
	batch := `[
		{"specversion":"1.0","id":"1","source":"web","type":"user.signed_up","data":{"plan":"pro-yearly"}},
		{"specversion":"1.0","id":"2","source":"web","type":"user.signed_up","data":{"plan":"free"}},
		{"specversion":"1.0","id":"3","source":"web","type":"user.deleted"}
	]`
	resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil, batch)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	assertSameJSON(t, []byte(body), `{"results":[
		{"id":"1","source":"web","routes":["all-signups","pro-signups"]},
		{"id":"2","source":"web","routes":["all-signups"]},
		{"id":"3","source":"web","routes":[]}]}`)
}

func assertHeaders(t *testing.T, got http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g := got.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
}

func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %s (%v)", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("got  %s\nwant %s", gb, wb)
	}
}
