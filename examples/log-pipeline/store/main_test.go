package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
	"github.com/eventbus-go/eventbus/sdk/plugin/plugintest"
	"github.com/eventbus-go/eventbus/verdict"
)

// file is an in-memory syncWriter that counts its flushes.
type file struct {
	bytes.Buffer
	syncs int
}

func (f *file) Sync() error { f.syncs++; return nil }

// One write and one flush per batch; a record that is not JSON is
// dead-lettered on its own while the rest of its batch is stored.
func TestStoresEachBatchWithOneFlush(t *testing.T) {
	out := &file{}
	p := plugintest.NewBatch(t, &store{out: out}, plugin.Options{})
	logEvent := func(id, data string) event.Event {
		e := event.New()
		e.SetID(id)
		e.SetSource("collector/test")
		e.SetType("log.info")
		_ = e.SetData(event.ApplicationJSON, []byte(data))
		return e
	}
	res, err := p.DeliverBatch(t.Context(), []event.Event{
		logEvent("1", `{"msg":"a"}`),
		logEvent("2", `not json`),
		logEvent("3", `{"msg":"c"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []verdict.Verdict{verdict.Ack, verdict.DeadLetter, verdict.Ack}
	for i, r := range res {
		if r.Verdict != want[i] {
			t.Errorf("event %d: verdict %v; want %v", i+1, r.Verdict, want[i])
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || out.syncs != 1 {
		t.Fatalf("stored %d lines with %d flushes; want the 2 JSON records in 1 flush:\n%s", len(lines), out.syncs, out.String())
	}
	var r record
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Batch != 1 || r.ID != "3" || r.Source != "collector/test" || string(r.Data) != `{"msg":"c"}` {
		t.Errorf("second line = %+v; want event 3 of batch 1 with its data as stored", r)
	}
}
