package adapters

import (
	"strings"
	"testing"
)

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

func TestCheckErrorsDoNotShowThePassword(t *testing.T) {
	r := NewRegistry()
	for _, raw := range []string{
		"rabbitt://guest:s3cret@host:5672/",   // an unknown scheme
		"rabbit://guest:s3cret@host:56%zz72/", // unparsable
	} {
		err := r.Check(raw)
		if err == nil {
			t.Fatalf("Check(%q) = nil, want an error", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Check's error %q shows the URL's password: backend URLs reach logs and API answers", err)
		}
	}
}
