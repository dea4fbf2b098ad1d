package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// --log-format json writes one JSON object a line, and a line written
// within a span names its trace, so logs and traces can be joined.
func TestJSONLogLinesCarryTheTraceOfTheirSpan(t *testing.T) {
	var out bytes.Buffer
	log, err := newLogger(&out, "json", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 1},
		SpanID:     trace.SpanID{0x00, 0xf0, 2},
		TraceFlags: trace.FlagsSampled,
	})
	log.With("route", "r").InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "delivery failed; retrying", "attempt", 1)
	log.Info("outside any span")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), out.String())
	}
	var traced, plain map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &traced); err != nil {
		t.Fatalf("line %q is not JSON: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &plain); err != nil {
		t.Fatalf("line %q is not JSON: %v", lines[1], err)
	}
	if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() || traced["route"] != "r" {
		t.Errorf("line within a span %v: want trace_id %s, span_id %s and route r", traced, sc.TraceID(), sc.SpanID())
	}
	if _, ok := plain["trace_id"]; ok {
		t.Errorf("line outside any span names a trace: %v", plain)
	}
}

func TestAnUnknownLogFormatIsRefused(t *testing.T) {
	if _, err := newLogger(&bytes.Buffer{}, "xml", slog.LevelInfo); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("--log-format xml: %v; want an error naming text and json", err)
	}
}
