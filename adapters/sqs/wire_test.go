package sqs

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// The SQS message the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestStructuredModeMatchesGolden(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaOrderingKey] = "customer-7"
	m.Metadata[adapters.MetaAcceptedAt] = "1772600767123"
	body, err := encodeBody(m.Body, m.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	for k, v := range attributes(m.Metadata) {
		attrs[k] = *v.DataType + ":" + *v.StringValue
	}
	adaptertest.MatchesGolden(t, "structured-mode.golden", "the SQS message", map[string]any{
		"body":              json.RawMessage(body),
		"messageAttributes": attrs,
		"deduplicationId":   dedupID(body, m.Metadata),
	})
}

// Data of each kind comes back byte for byte: JSON stays JSON, text a
// string, anything else base64.
func TestDataKindsRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name, contentType, data, wantField string
	}{
		{"json", "application/json", `{"a":[1,2]}`, `"data":{"a":[1,2]}`},
		{"no content type is json", "", `[1,2]`, `"data":[1,2]`},
		{"json type but not json", "application/json", `not json`, `"data_base64"`},
		{"text", "text/plain", "héllo\n", `"data":"héllo\n"`},
		{"binary", "application/octet-stream", "\x00\xff", `"data_base64":"AP8="`},
	} {
		t.Run(c.name, func(t *testing.T) {
			md := map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", adapters.MetaAttempts: "1"}
			if c.contentType != "" {
				md["datacontenttype"] = c.contentType
			}
			body, err := encodeBody([]byte(c.data), md)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), c.wantField) {
				t.Errorf("body %s does not hold %s", body, c.wantField)
			}
			gotData, gotMD := decode(string(body), attributes(md))
			if string(gotData) != c.data || !maps.Equal(gotMD, md) {
				t.Errorf("read back %q %v, want %q %v", gotData, gotMD, c.data, md)
			}
		})
	}
}

func TestQueueNames(t *testing.T) {
	long := strings.Repeat("r", 100)
	for _, c := range []struct {
		fifo          bool
		channel, want string
	}{
		{false, "orders", "eventbus-orders"},
		{true, "orders", "eventbus-orders.fifo"},
		{false, "orders.dlq", "eventbus-orders-dlq-"},
		{false, "orders-dlq", "eventbus-orders-dlq"},
		{true, long, "eventbus-rrr"},
	} {
		b := &Driver{opts: options{prefix: DefaultPrefix, fifo: c.fifo}}
		got := b.queueName(c.channel)
		if !strings.HasPrefix(got, c.want) || len(got) > sqsMaxName || c.fifo != strings.HasSuffix(got, fifoSuffix) {
			t.Errorf("queueName(%q, fifo %v) = %q, want it to start %q, fit 80 characters and end .fifo only on FIFO", c.channel, c.fifo, got, c.want)
		}
	}
	b := &Driver{opts: options{prefix: DefaultPrefix}}
	if b.queueName("a.b") == b.queueName("a-b") || b.queueName(long+"x") == b.queueName(long+"y") {
		t.Error("two channels share a queue name: mapped and shortened names must stay distinct")
	}
}
