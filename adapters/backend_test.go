package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/errcode"
)

// declaring is the in-memory driver with other Capabilities.
type declaring struct {
	*memory.Driver
	caps func(adapters.Capabilities) adapters.Capabilities
}

func (d declaring) Capabilities() adapters.Capabilities { return d.caps(d.Driver.Capabilities()) }

// The batching paths of the wrapper (sends gathered by gocloud's batcher,
// receives of several messages, acks sent in the background) keep the
// whole contract: the in-memory driver, declaring SQS's batching, passes
// the conformance suite too.
func TestBatchingKeepsTheContract(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(context.Context) (adapters.Driver, error) {
			return declaring{memory.New(memory.Options{MaxMessageBytes: 64 << 10}), func(c adapters.Capabilities) adapters.Capabilities {
				c.Batching = adapters.Batching{MaxSendBatch: 10, SendHandlers: 4, MaxReceiveBatch: 10, MaxAckBatch: 10}
				return c
			}}, nil
		},
	})
}

// An ability is declared and implemented, or neither: a flag without its
// interface would be a route accepted and then failing, an interface
// without its flag an ability the bus never uses.
func TestNewRefusesCapabilitiesTheDriverDoesNotImplement(t *testing.T) {
	for name, lie := range map[string]func(adapters.Capabilities) adapters.Capabilities{
		"DropOldest implemented but not declared": func(c adapters.Capabilities) adapters.Capabilities { c.DropOldest = false; return c },
		"Topics declared but not implemented":     func(c adapters.Capabilities) adapters.Capabilities { c.Topics = true; return c },
	} {
		t.Run(name, func(t *testing.T) {
			d := declaring{memory.New(memory.Options{}), lie}
			defer d.Close()
			if _, err := adapters.New(d); errcode.Of(err) != errcode.Internal {
				t.Fatalf("New = %v, want an internal error: the driver's Capabilities disagree with what it implements", err)
			}
		})
	}
	d := memory.New(memory.Options{})
	defer d.Close()
	if _, err := adapters.New(d); err != nil {
		t.Fatalf("New(the in-memory driver) = %v, want nil: it declares what it implements", err)
	}
}

// A message's due time is read the same way by every backend that can
// delay; a value it cannot read is due, so the message is delivered rather
// than held for ever.
func TestDueIn(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	for _, tc := range []struct {
		deliverAt string
		want      time.Duration
	}{
		{"", 0},
		{"soon", 0},
		{"1002500", 2500 * time.Millisecond},
		{" 1002500 ", 2500 * time.Millisecond},
		{"999000", -time.Second},
	} {
		if got := adapters.DueIn(tc.deliverAt, now); got != tc.want {
			t.Errorf("DueIn(%q) = %v, want %v", tc.deliverAt, got, tc.want)
		}
	}
}
