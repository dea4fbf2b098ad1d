package adaptertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// GoldenEvent is the event every backend's wire-format golden file shows:
// every CloudEvents attribute and three extensions of different types.
func GoldenEvent(t *testing.T) *event.Event {
	t.Helper()
	e := event.New(event.CloudEventsVersionV1)
	e.SetID("7c2f9d3e")
	e.SetSource("https://shop.example.com/orders")
	e.SetType("com.example.order.created")
	e.SetSubject("orders/42")
	e.SetTime(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC))
	e.SetDataSchema("https://shop.example.com/schemas/order.json")
	e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	e.SetExtension("attempt", 3)
	e.SetExtension("urgent", true)
	if err := e.SetData("application/json", map[string]any{"order": 42}); err != nil {
		t.Fatal(err)
	}
	return &e
}

// GoldenMessage is GoldenEvent in the canonical form every backend stores
// (adapters.EncodeEvent), for a driver to put on its wire.
func GoldenMessage(t *testing.T) *adapters.Message {
	t.Helper()
	m, err := adapters.EncodeEvent(GoldenEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// MatchesGolden compares wire, indented as JSON, with testdata/name. A wire
// format is what consumers in other languages read, so any change to it
// must be deliberate: go test -update rewrites the file. what names the
// wire form in the failure ("the Kafka record").
func MatchesGolden(t *testing.T, name, what string, wire any) {
	t.Helper()
	got, err := json.MarshalIndent(wire, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s, which consumers in other languages rely on:\ngot:\n%s\nwant:\n%s", what, path, got, want)
	}
}
