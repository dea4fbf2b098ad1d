package bus_test

import (
	"net/url"
	"os"
	"testing"
)

// sqsBackend returns an sqs:// backend URL for the endpoint named by
// EVENTBUS_TEST_SQS (sqs://127.0.0.1:4566?region=us-east-1, which
// scripts/sqs-emulator.sh start serves), with extra appended to its
// options. Unset, the test skips, except under CI=true.
func sqsBackend(t *testing.T, extra string) string {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_SQS")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_SQS is not set: CI must test against an SQS endpoint (scripts/sqs-emulator.sh start, then sqs://127.0.0.1:4566?region=us-east-1)")
		}
		t.Skip("EVENTBUS_TEST_SQS is not set (scripts/sqs-emulator.sh start, then sqs://127.0.0.1:4566?region=us-east-1)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("EVENTBUS_TEST_SQS: %v", err)
	}
	if extra != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += extra
	}
	return u.String()
}

// Events with the same ordering key reach the target one at a time and in
// order through SQS FIFO queues (the key is the message group), while one
// key's target fails and retries; the other keys keep flowing meanwhile.
func TestSQSOrderingKeyHoldsOrderUnderFailure(t *testing.T) {
	checkOrderUnderFailure(t, "sqs-ordered", sqsBackend(t, "fifo=true"))
}
