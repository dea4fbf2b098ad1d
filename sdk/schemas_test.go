package sdk_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk"
)

// Against a real bus: a schema is saved and read back with its versions,
// a bus set to enforce refuses an event that breaks it, naming the field,
// and a schedule is saved and shows its next firing.
func TestAgainstABusSchemasAndSchedules(t *testing.T) {
	c := busClient(t)
	ctx := t.Context()
	if _, err := c.PutSchema(ctx, "order.created", json.RawMessage(`{"type":"object","required":["total"]}`)); err != nil {
		t.Fatal(err)
	}
	saved, err := c.PutSchema(ctx, "order.created", json.RawMessage(`{"type":"object","required":["total","currency"]}`))
	if err != nil || saved.Version != 2 || len(saved.Versions) != 2 {
		t.Fatalf("second PutSchema = %+v, %v; want version 2 of 2", saved, err)
	}
	first, err := c.GetSchema(ctx, "order.created", 1)
	if err != nil || string(first.Schema) != `{"type":"object","required":["total"]}` {
		t.Fatalf("GetSchema version 1 = %+v, %v", first, err)
	}
	var apiErr *sdk.Error
	if _, err := c.PutSchema(ctx, "bad", json.RawMessage(`{"minimum":"zero"}`)); !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Fields) == 0 || apiErr.Fields[0].Path != "schema.minimum" {
		t.Fatalf("PutSchema of a bad schema: %v; want a 400 naming schema.minimum", err)
	}
	if _, err := c.PutBus(ctx, sdk.Bus{Name: "default", Schemas: "enforce"}); err != nil {
		t.Fatal(err)
	}
	e := event.New()
	e.SetID("o-1")
	e.SetType("order.created")
	e.SetSource("/shop")
	if err := e.SetData(event.ApplicationJSON, map[string]any{"total": 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Emit(ctx, e); !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Fields) == 0 || apiErr.Fields[0].Path != "data.currency" {
		t.Fatalf("Emit of an event without currency: %v; want a 400 naming data.currency", err)
	}

	s, err := c.PutSchedule(ctx, sdk.Schedule{Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Berlin", Event: sdk.EventTemplate{Type: "report.due"}})
	if err != nil || s.Next == nil || s.Next.UTC().Hour() != 1 && s.Next.UTC().Hour() != 0 {
		t.Fatalf("PutSchedule = %+v, %v; want the next firing at 02:00 Berlin time", s, err)
	}
	if list, err := c.ListSchedules(ctx); err != nil || len(list) != 1 || list[0].Bus != "default" {
		t.Fatalf("ListSchedules = %+v, %v", list, err)
	}
	if err := c.DeleteSchedule(ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
}
