// Package schedule describes schedules — events a bus emits by itself, on
// a cron expression or once at a time — and computes when each is due.
//
// A Schedule is a resource of the admin API. Compile checks it and
// returns a Plan; Plan.Due says which firing time is due given the last
// one fired and the present, so the caller (the bus) can claim that time
// in its store before it emits: a compare-and-set that one replica wins.
// Event builds the CloudEvent of one firing; its id is derived from the
// schedule's name and the firing time, so two emissions of one firing
// are the same event to ingress's dedup and to consumers.
//
// Missed firings (every replica down) are not caught up one by one: the
// latest one due is fired, once.
package schedule

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/robfig/cron/v3"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// Schedule emits Event to Bus on Cron, or once At a time.
type Schedule struct {
	Name string `json:"name"`
	// Bus receives the events; empty is the default bus.
	Bus string `json:"bus,omitempty"`
	// Cron is a standard five-field expression ("*/5 * * * *") or a
	// descriptor (@hourly, @daily, @every 10m). Exactly one of Cron and
	// At is set.
	Cron string `json:"cron,omitempty"`
	// At is a time in RFC 3339 ("2026-12-24T18:00:00Z"), or without an
	// offset ("2026-12-24T18:00:00") in TimeZone.
	At string `json:"at,omitempty"`
	// TimeZone is the IANA zone (Europe/Paris) Cron and an At without an
	// offset are read in; empty is UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Event is the template of the events emitted.
	Event Template `json:"event"`
	// CreatedAt is set by the bus: no firing is due before it.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Set by the bus when it shows a schedule, never stored with it:
	// Version as for routes, LastFired the firing time last emitted,
	// Next the one after.
	Version   int64      `json:"version,omitempty"`
	LastFired *time.Time `json:"last_fired,omitempty"`
	Next      *time.Time `json:"next,omitempty"`
}

// Template is the CloudEvent a schedule emits; the bus sets its id (from
// the schedule and the firing time), its time (the firing time) and the
// extension schedule (the schedule's name).
type Template struct {
	Type string `json:"type"`
	// Source defaults to /schedules/{name}.
	Source          string          `json:"source,omitempty"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	// Extensions are further CloudEvents attributes, as strings.
	Extensions map[string]string `json:"extensions,omitempty"`
}

// maxEventBytes bounds a template's data.
const maxEventBytes = 256 << 10

// Plan is a compiled schedule: when it is due.
type Plan struct {
	cron cron.Schedule // nil for a one-time schedule
	at   time.Time
	loc  *time.Location
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Compile checks every field of s and returns its Plan, or every problem
// found, each a *spec.FieldError.
func Compile(s Schedule) (*Plan, error) {
	var errs []error
	fail := func(path, format string, args ...any) {
		errs = append(errs, &spec.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if err := router.ValidateName("name", s.Name); err != nil {
		errs = append(errs, err)
	}
	p := &Plan{loc: time.UTC}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			fail("time_zone", "%q is not an IANA time zone such as Europe/Paris or America/New_York", s.TimeZone)
		} else {
			p.loc = loc
		}
	}
	switch {
	case s.Cron == "" && s.At == "":
		fail("cron", "is required, or at: give a cron expression such as \"*/5 * * * *\" or a time to fire once")
	case s.Cron != "" && s.At != "":
		fail("at", "is set with cron: a schedule is either recurring (cron) or one-time (at)")
	case s.Cron != "":
		if strings.Contains(s.Cron, "TZ=") {
			fail("cron", "names a time zone: set time_zone instead")
			break
		}
		c, err := parser.Parse(s.Cron)
		if err != nil {
			fail("cron", "%q: %v; write five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @every 10m", s.Cron, err)
		}
		p.cron = c
	default:
		at, err := time.Parse(time.RFC3339, s.At)
		if err != nil {
			at, err = time.ParseInLocation("2006-01-02T15:04:05", s.At, p.loc)
		}
		if err != nil {
			fail("at", "%q is not a time such as 2026-12-24T18:00:00Z, or 2026-12-24T18:00:00 in time_zone", s.At)
		}
		p.at = at
	}
	if s.Event.Type == "" {
		fail("event.type", "is required: the type of the events emitted")
	}
	if len(s.Event.Data) > maxEventBytes {
		fail("event.data", "is %d bytes, more than %d", len(s.Event.Data), maxEventBytes)
	}
	if len(s.Event.Data) > 0 && !json.Valid(s.Event.Data) {
		fail("event.data", "is not JSON")
	}
	if len(errs) == 0 {
		var fe *spec.FieldError
		if _, err := Event(s, time.Unix(0, 0)); errors.As(err, &fe) {
			errs = append(errs, err)
		} else if err != nil {
			fail("event", "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Next returns the first firing time after t, or the zero time when
// there is none (a one-time schedule already past).
func (p *Plan) Next(t time.Time) time.Time {
	if p.cron == nil {
		if p.at.After(t) {
			return p.at
		}
		return time.Time{}
	}
	return p.cron.Next(t.In(p.loc))
}

// maxCatchUp bounds the steps Due takes over missed firings.
const maxCatchUp = 100_000

// Due returns the latest firing time after last (the last one fired, or
// the schedule's creation) that is not after now, and whether there is one.
func (p *Plan) Due(last, now time.Time) (time.Time, bool) {
	due := p.Next(last)
	if due.IsZero() || due.After(now) {
		return time.Time{}, false
	}
	for range maxCatchUp {
		n := p.Next(due)
		if n.IsZero() || n.After(now) {
			break
		}
		due = n
	}
	return due, true
}

// ID is the id of the event a schedule emits for the firing at t.
func ID(name string, t time.Time) string {
	return name + "@" + t.UTC().Format(time.RFC3339)
}

// Event builds the CloudEvent of s firing at t.
func Event(s Schedule, t time.Time) (*event.Event, error) {
	e := event.New()
	e.SetID(ID(s.Name, t))
	e.SetType(s.Event.Type)
	e.SetSource(cmp.Or(s.Event.Source, "/schedules/"+s.Name))
	e.SetTime(t.UTC())
	if s.Event.Subject != "" {
		e.SetSubject(s.Event.Subject)
	}
	for name, v := range s.Event.Extensions {
		if err := checkExtension(name); err != nil {
			return nil, err
		}
		e.SetExtension(name, v)
	}
	e.SetExtension("schedule", s.Name)
	if len(s.Event.Data) > 0 {
		if err := e.SetData(cmp.Or(s.Event.DataContentType, event.ApplicationJSON), []byte(s.Event.Data)); err != nil {
			return nil, err
		}
	}
	return &e, e.Validate()
}

func checkExtension(name string) error {
	switch name {
	case "id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema", "data", "schedule":
		return &spec.FieldError{Path: "event.extensions." + name, Message: "is set by the schedule or its own field, not an extension"}
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return &spec.FieldError{Path: "event.extensions." + name, Message: "an extension name is lower-case letters and digits only"}
		}
	}
	return nil
}
