package adapters

import "testing"

func TestRedactHidesOnlyPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"mem://":                              "mem://",
		"rabbit://guest:secret@host:5672/vh":  "rabbit://guest:xxxxx@host:5672/vh",
		"kafka://127.0.0.1:9092?partitions=3": "kafka://127.0.0.1:9092?partitions=3",
		"sqs://user@host:4566":                "sqs://user@host:4566",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
