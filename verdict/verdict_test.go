package verdict

import "testing"

// The names are the values of the Eventbus-Verdict header that HTTP
// targets send: changing one breaks every target that uses it.
func TestVerdictNamesAreTheHeaderValues(t *testing.T) {
	for v, want := range map[Verdict]string{Ack: "ack", Retry: "retry", Drop: "drop", DeadLetter: "dead-letter"} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q, want %q: targets send these names in Eventbus-Verdict", int(v), got, want)
		}
		if got, ok := Parse(want); !ok || got != v {
			t.Errorf("Parse(%q) = %v, %v; want %v, true: a target's header must be read as it was meant", want, got, ok, v)
		}
	}
}

func TestUnknownVerdictIsNotParsed(t *testing.T) {
	for _, s := range []string{"", "nack", "deadletter", "Ack", "Verdict(7)"} {
		if v, ok := Parse(s); ok {
			t.Errorf("Parse(%q) = %v, true; want false so the caller can say the value is not a verdict", s, v)
		}
	}
}

func TestZeroVerdictIsAck(t *testing.T) {
	var v Verdict
	if v != Ack {
		t.Fatalf("zero Verdict is %v, want ack: a zero Result from a handler means handled", v)
	}
	if got := Verdict(9).String(); got != "Verdict(9)" {
		t.Errorf("String of an unknown verdict = %q, want Verdict(9) so logs show the bad value", got)
	}
}
