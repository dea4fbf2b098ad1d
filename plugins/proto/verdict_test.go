package proto

import (
	"testing"

	"github.com/eventbus-go/eventbus/verdict"
)

// The Kind numbers are the wire: a host and a plugin built at different
// times must read each other's verdicts the same way.
func TestEveryVerdictHasItsWireKind(t *testing.T) {
	for v, want := range map[verdict.Verdict]Kind{
		verdict.Ack: 0, verdict.Retry: 1, verdict.Drop: 2, verdict.DeadLetter: 3,
	} {
		k, ok := KindOf(v)
		if !ok || k != want {
			t.Errorf("KindOf(%v) = %v, %v; want %v: the number on the wire must not change", v, k, ok, want)
		}
		back, ok := k.Verdict()
		if !ok || back != v {
			t.Errorf("%v.Verdict() = %v, %v; want %v: a verdict must survive the wire", k, back, ok, v)
		}
	}
}

func TestUnknownKindAndVerdictAreRefused(t *testing.T) {
	if v, ok := Kind(7).Verdict(); ok {
		t.Errorf("Kind(7).Verdict() = %v, true; want false so the host can dead-letter an answer it does not understand", v)
	}
	if k, ok := KindOf(verdict.Verdict(7)); ok {
		t.Errorf("KindOf(Verdict(7)) = %v, true; want false so the plugin can refuse a handler's unknown verdict", k)
	}
}
