package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/sqs"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// endpointURL is the SQS endpoint the tests use, from EVENTBUS_TEST_SQS
// (sqs://127.0.0.1:4566?region=us-east-1; scripts/sqs-emulator.sh starts
// one), with extra options appended.
func endpointURL(t *testing.T, extra string) *url.URL {
	u := adaptertest.Server{
		Env:   "EVENTBUS_TEST_SQS",
		Start: "scripts/sqs-emulator.sh start, then EVENTBUS_TEST_SQS=sqs://127.0.0.1:4566?region=us-east-1",
	}.URL(t)
	if extra != "" {
		u.RawQuery = strings.TrimPrefix(u.RawQuery+"&"+extra, "&")
	}
	return u
}

func TestConformance(t *testing.T) {
	u := endpointURL(t, "")
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return sqs.Open(ctx, u) },
	})
}

func TestConformanceFIFO(t *testing.T) {
	u := endpointURL(t, "fifo=true")
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return sqs.Open(ctx, u) },
	})
}

func TestUnknownOptionIsRefused(t *testing.T) {
	u := &url.URL{Scheme: sqs.Scheme, Host: "127.0.0.1:4566", RawQuery: "region=us-east-1&visibilty_timeout=60"}
	_, err := sqs.Open(t.Context(), u)
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "visibility_timeout") {
		t.Fatalf("Open(%s) = %v, want invalid_argument listing the known options: a typo must not be ignored", u, err)
	}
}

// openChannel opens a backend on u and a fresh channel on it, with its
// dead-letter channel, removed when the test ends.
func openChannel(t *testing.T, u *url.URL, name string) (*adapters.Backend, string, *adapters.Channel) {
	b, ch, top := adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) { return sqs.Open(ctx, u) }, name)
	dlq := ch + ".dlq"
	if err := b.EnsureChannel(t.Context(), dlq); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.DeleteChannel(context.Background(), dlq) })
	return b, ch, top
}

func event1(id, key string) *adapters.Message {
	md := map[string]string{"specversion": "1.0", "id": id, "source": "/sqs-test", "type": "test", "datacontenttype": "application/json"}
	if key != "" {
		md[adapters.MetaOrderingKey] = key
	}
	return &adapters.Message{Body: []byte(`{"id":"` + id + `"}`), Metadata: md}
}

// A consumer written with nothing but aws-sdk-go-v2 and the CloudEvents SDK
// reads a channel's queue: the body is a structured-mode CloudEvent and the
// bus's own metadata rides in message attributes.
func TestPlainSDKConsumerReadsTheEvent(t *testing.T) {
	u := endpointURL(t, "")
	_, ch, top := openChannel(t, u, "interop")
	m := event1("interop-1", "")
	m.Metadata["subject"] = "orders/42"
	m.Metadata[adapters.MetaAttempts] = "2"
	if err := top.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}

	region := u.Query().Get("region")
	client := awssqs.New(awssqs.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://" + u.Host),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	q, err := client.GetQueueUrl(t.Context(), &awssqs.GetQueueUrlInput{QueueName: aws.String(sqs.DefaultPrefix + ch)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.ReceiveMessage(t.Context(), &awssqs.ReceiveMessageInput{
		QueueUrl: q.QueueUrl, WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %v, %d messages; want the one event", err, len(out.Messages))
	}
	got := out.Messages[0]
	var e event.Event
	if err := json.Unmarshal([]byte(aws.ToString(got.Body)), &e); err != nil {
		t.Fatalf("the body %q is not a structured CloudEvent: %v", aws.ToString(got.Body), err)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("the event read back is not valid: %v", err)
	}
	if e.ID() != "interop-1" || e.Subject() != "orders/42" || string(e.Data()) != `{"id":"interop-1"}` {
		t.Errorf("read id %q subject %q data %s; want what the producer sent", e.ID(), e.Subject(), e.Data())
	}
	if a := got.MessageAttributes[adapters.MetaAttempts]; aws.ToString(a.StringValue) != "2" {
		t.Errorf("attribute %s = %v, want 2: the bus's metadata rides in message attributes", adapters.MetaAttempts, a.StringValue)
	}
	if len(e.Extensions()) != 0 {
		t.Errorf("extensions %v: the bus's metadata must not leak into the event", e.Extensions())
	}
}

// 1,000 events over 10 keys arrive in per-key order, one per key at a time,
// on a FIFO queue, while every third first delivery of one key fails and is
// retried, and two subscriptions compete for the work.
func TestFIFOKeysKeepOrderWhileOneKeyRetries(t *testing.T) {
	const keys, perKey = 10, 100
	b, ch, top := openChannel(t, endpointURL(t, "fifo=true"), "ordering")
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				if err := top.Send(t.Context(), event1(fmt.Sprintf("k%d-%03d", k, i), fmt.Sprintf("k%d", k))); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var subs []*adapters.Subscription
	for range 2 {
		sub, err := b.OpenSubscription(t.Context(), ch, adapters.SubscriptionOptions{MaxInflight: 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
		subs = append(subs, sub)
	}
	adaptertest.CheckPerKeyOrder(t, subs, keys, perKey)
}

// Past max_receive_count receives, SQS itself moves a message to the
// channel's dead-letter queue: the safety net under the bus's max_attempts.
func TestRedriveMovesAPoisonMessageToTheDeadLetterChannel(t *testing.T) {
	b, ch, top := openChannel(t, endpointURL(t, "max_receive_count=2"), "redrive")
	if err := top.Send(t.Context(), event1("poison", "")); err != nil {
		t.Fatal(err)
	}
	sub, err := b.OpenSubscription(t.Context(), ch, adapters.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		m, err := sub.Receive(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Receive: %v; want the message redelivered up to max_receive_count", err)
		}
		m.Nack()
	}
	testkit.EventuallyNoError(t, 15*time.Second, func() error {
		// SQS moves the message when a receive finds it past the count.
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if m, err := sub.Receive(ctx); err == nil {
			m.Nack()
			t.Fatalf("received %s a third time: max_receive_count=2 must dead-letter it", m.Metadata["id"])
		}
		if n, err := b.Depth(t.Context(), ch+".dlq"); err != nil || n != 1 {
			return fmt.Errorf("Depth(%s.dlq) = %d, %v; want 1: a message received max_receive_count times must be dead-lettered", ch, n, err)
		}
		return nil
	})
}
