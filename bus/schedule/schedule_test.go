package schedule_test

import (
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/schedule"
)

func compile(t *testing.T, s schedule.Schedule) *schedule.Plan {
	t.Helper()
	s.Name, s.Event.Type = "s", "t"
	p, err := schedule.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A cron is read in its time zone, across a daylight saving change: 02:30
// every day in Berlin is 01:30 UTC in winter and 00:30 UTC in summer.
func TestCronFollowsItsTimeZone(t *testing.T) {
	p := compile(t, schedule.Schedule{Cron: "30 2 * * *", TimeZone: "Europe/Berlin"})
	winter := p.Next(time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC))
	summer := p.Next(time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC))
	if !winter.Equal(time.Date(2026, 1, 10, 1, 30, 0, 0, time.UTC)) || !summer.Equal(time.Date(2026, 7, 10, 0, 30, 0, 0, time.UTC)) {
		t.Fatalf("next firings %v and %v; want 01:30 UTC in winter and 00:30 UTC in summer", winter, summer)
	}
}

// After missed firings, Due gives the latest one, once: not one per
// missed minute.
func TestDueGivesTheLatestMissedFiring(t *testing.T) {
	p := compile(t, schedule.Schedule{Cron: "* * * * *"})
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := last.Add(90*time.Minute + 20*time.Second)
	due, ok := p.Due(last, now)
	if !ok || !due.Equal(last.Add(90*time.Minute)) {
		t.Fatalf("Due = %v, %v; want the firing at %v", due, ok, last.Add(90*time.Minute))
	}
	if _, ok := p.Due(due, now); ok {
		t.Fatal("Due after that firing found another before the next minute")
	}
}

// The id of a firing depends only on the schedule and the firing time, so
// two emissions of one firing are the same event.
func TestEventIDIsDeterministicPerFiring(t *testing.T) {
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.FixedZone("x", 3600))
	s := schedule.Schedule{Name: "n", Cron: "@hourly", Event: schedule.Template{Type: "t", Data: []byte(`{"a":1}`)}}
	a, err := schedule.Event(s, at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := schedule.Event(s, at.UTC())
	if a.ID() != "n@2026-01-01T08:00:00Z" || a.ID() != b.ID() || !a.Time().Equal(at) || a.Extensions()["schedule"] != "n" {
		t.Fatalf("event %v; want id n@2026-01-01T08:00:00Z whatever the zone, time the firing time, extension schedule", a)
	}
}
