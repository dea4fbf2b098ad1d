package sqs

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// topic sends to one queue, up to ten messages per SendMessageBatch.
type topic struct {
	adapters.DriverDefaults
	b       *Driver
	channel string // for errors: the channel, or the topic target's name
	url     string
	fifo    bool
}

var _ driver.Topic = (*topic)(nil)

// SendBatch sends every message in one SendMessageBatch and returns once
// SQS stored them all. A batch with a refused entry fails as a whole; the
// entries SQS did store are then sent again by a retry, which
// at-least-once allows (and a FIFO queue deduplicates).
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(ms))
	sizes := make([]int, len(ms))
	total := 0
	for i, m := range ms {
		e, size, err := t.entry(i, m)
		if err != nil {
			return err
		}
		entries[i], sizes[i] = e, size
		total += size
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	// A batch past SQS's 1 MiB total goes in two requests.
	for len(entries) > 0 {
		n := len(entries)
		for sum := total; sum > sqsMaxBytes; n-- {
			sum -= sizes[n-1]
		}
		out, err := t.b.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(t.url), Entries: entries[:n]})
		if err != nil {
			return t.b.fail(t.channel, "publish", err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return t.b.fail(t.channel, "publish", &entryError{code: aws.ToString(f.Code), message: aws.ToString(f.Message), sender: f.SenderFault})
		}
		for _, size := range sizes[:n] {
			total -= size
		}
		entries, sizes = entries[n:], sizes[n:]
	}
	return nil
}

// entry makes the batch entry for m and says how many bytes of SQS's
// limit it takes.
func (t *topic) entry(i int, m *driver.Message) (types.SendMessageBatchRequestEntry, int, error) {
	if n := adapters.MessageBytes(m.Body, m.Metadata); n > t.b.opts.maxMessageBytes {
		return types.SendMessageBatchRequestEntry{}, 0, errcode.Errorf(errcode.InvalidArgument, "channel %q: message of %d bytes is over the limit of %d bytes (max_message_bytes): make the event smaller", t.channel, n, t.b.opts.maxMessageBytes)
	}
	body, err := encodeBody(m.Body, m.Metadata)
	if err != nil {
		return types.SendMessageBatchRequestEntry{}, 0, fmt.Errorf("channel %q: %w", t.channel, err)
	}
	attrs := attributes(m.Metadata)
	size := len(body)
	for k, v := range attrs {
		size += len(k) + len(*v.DataType) + len(*v.StringValue)
	}
	if size > sqsMaxBytes {
		return types.SendMessageBatchRequestEntry{}, 0, errcode.Errorf(errcode.InvalidArgument, "channel %q: the event encodes to %d bytes of JSON and attributes, over SQS's %d: make the event smaller", t.channel, size, sqsMaxBytes)
	}
	e := types.SendMessageBatchRequestEntry{
		Id:                aws.String(strconv.Itoa(i)),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: attrs,
	}
	if t.fifo {
		e.MessageDeduplicationId = aws.String(dedupID(body, m.Metadata))
		e.MessageGroupId = e.MessageDeduplicationId // unkeyed: a group of its own, so it flows
		if key := m.Metadata[adapters.MetaOrderingKey]; key != "" {
			e.MessageGroupId = aws.String(key)
		}
	} else if wait := adapters.DueIn(m.Metadata[adapters.MetaDeliverAt], time.Now()); wait > 0 {
		// Delivered no earlier than due: rounded up, at most SQS's 15
		// minutes; the receiver hides it for the rest.
		e.DelaySeconds = int32(min(math.Ceil(wait.Seconds()), sqsMaxDelay.Seconds()))
	}
	return e, size, nil
}

// entryError is one entry SQS refused in a batch that it answered.
type entryError struct {
	code, message string
	sender        bool
}

func (e *entryError) Error() string        { return e.code + ": " + e.message }
func (e *entryError) ErrorCode() string    { return e.code }
func (e *entryError) ErrorMessage() string { return e.message }
func (e *entryError) ErrorFault() smithy.ErrorFault {
	if e.sender {
		return smithy.FaultClient
	}
	return smithy.FaultServer
}

var _ smithy.APIError = (*entryError)(nil)

func (*topic) Close() error { return nil }
