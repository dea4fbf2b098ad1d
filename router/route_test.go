package router

import (
	"strings"
	"testing"
)

func TestBadBackendURLErrorsDoNotRepeatThePassword(t *testing.T) {
	for _, raw := range []string{"rabbit://guest:s3cret@host:56%zz/", "guest:s3cret@host"} {
		r := Route{Name: "r", Backend: raw, Target: Target{Topic: &TopicTarget{URL: raw, Name: "t"}}}
		err := r.Validate(Limits{})
		if err == nil {
			continue // "guest:s3cret@host" parses, with the scheme "guest"
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Validate's error %q repeats the URL's password: route errors reach logs and API answers", err)
		}
	}
}
