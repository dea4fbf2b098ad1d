package router

import (
	"strings"
	"testing"
)

func TestBadBackendURLErrorsDoNotRepeatThePassword(t *testing.T) {
	raw := "rabbit://guest:s3cret@host:56%zz/" // an invalid port
	r := Route{Name: "r", Backend: raw, Target: Target{Topic: &TopicTarget{URL: raw, Name: "t"}}}
	err := r.Validate(Limits{})
	if err == nil || !strings.Contains(err.Error(), "backend") || !strings.Contains(err.Error(), "target.topic.url") {
		t.Fatalf("Validate = %v; want errors for backend and target.topic.url", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate's error %q repeats the URL's password: route errors reach logs and API answers", err)
	}
}
