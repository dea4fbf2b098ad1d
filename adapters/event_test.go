package adapters

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// decodeV1 reads what the SDK's generic attribute setters read, and
// refuses what they refuse: every attribute, values with spaces around
// them, extensions, the bus's own metadata, and each kind of bad value.
func TestDecodeV1IsTheSDKsGenericDecode(t *testing.T) {
	base := map[string]string{
		"specversion": "1.0", "id": "a-1", "source": "/orders/eu", "type": "order.placed",
		MetaAcceptedAt: "1765000000000", MetaAttempts: "2",
	}
	with := func(kv ...string) map[string]string {
		md := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			md[kv[i]] = kv[i+1]
		}
		return md
	}
	renamed := func(from, to string) map[string]string {
		md := with(to, base[from])
		delete(md, from)
		return md
	}
	cases := map[string]map[string]string{
		"required only":     base,
		"every attribute":   with("subject", "eu-7", "time", "2026-12-06T10:00:00.123456789+01:00", "datacontenttype", "application/json; charset=utf-8", "dataschema", "https://schemas.example/order.json"),
		"spaces around":     with("id", " a-1 ", "type", " order.placed ", "subject", " s ", "datacontenttype", " text/plain "),
		"blank optionals":   with("subject", " ", "datacontenttype", "", "dataschema", " "),
		"extensions":        with("tenant", "acme", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "count", "7"),
		"source URI":        with("source", "https://example.com/a%20b?x=1#frag"),
		"blank id":          with("id", " "),
		"bad source":        with("source", "http://[::1"),
		"bad dataschema":    with("dataschema", "http://[::1"),
		"bad time":          with("time", "yesterday"),
		"empty time":        with("time", ""),
		"bad extension":     with("Tenant-Name", "acme"),
		"attribute in caps": renamed("id", "ID"),
		"version in caps":   with("SPECVERSION", "1.0"),
	}
	// One decoder reads every case twice, as a dispatcher's worker reads
	// message after message: the second time from the source it parsed.
	var d Decoder
	for name, md := range cases {
		t.Run(name, func(t *testing.T) {
			want, wantErr := decodeAttributes(v1, md)
			for range 2 {
				got, gotErr := d.decodeV1(md)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("error %v, the SDK's setters say %v", gotErr, wantErr)
				}
				if gotErr != nil {
					return
				}
				if !reflect.DeepEqual(got.Context, want.Context) {
					t.Errorf("context\n%+v\nthe SDK's setters make\n%+v", got.Context, want.Context)
				}
			}
		})
	}
}

// EncodeStamped adds the stamp's fields as the bus's metadata, and leaves
// a zero field out. An event's extension named like the bus's metadata
// (only an older CloudEvents version can carry one) is left out too: the
// stamp alone says when an event was accepted, is due, or in which lane.
func TestEncodeStampedWritesTheStampAndOnlyTheStamp(t *testing.T) {
	e := event.New(event.CloudEventsVersionV03)
	e.SetID("o-1")
	e.SetSource("/shop")
	e.SetType("order.created")
	e.SetExtension(MetaDeliverAt, "99999999999999")
	e.SetExtension(MetaOrderingKey, "injected")
	e.SetExtension("tenant", "acme")
	cases := map[string]struct {
		stamp Stamp
		bus   map[string]string
	}{
		"zero stamp": {Stamp{}, map[string]string{}},
		"every field": {
			Stamp{AcceptedAt: time.UnixMilli(1765000000123), OrderingKey: "customer-7", DeliverAt: time.UnixMilli(1765000060000)},
			map[string]string{MetaAcceptedAt: "1765000000123", MetaOrderingKey: "customer-7", MetaDeliverAt: "1765000060000"},
		},
		"due before 1970": {Stamp{DeliverAt: time.UnixMilli(-5)}, map[string]string{MetaDeliverAt: "-5"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := EncodeStamped(&e, c.stamp)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"specversion": "0.3", "id": "o-1", "source": "/shop", "type": "order.created", "tenant": "acme"}
			maps.Copy(want, c.bus)
			if !maps.Equal(m.Metadata, want) {
				t.Errorf("metadata\n%v\nwant\n%v", m.Metadata, want)
			}
		})
	}
}

// BenchmarkDecode decodes a message of a typical event, as a dispatcher's
// worker does: "once" with a fresh decoder each time, "repeated" with one
// that has seen the source before.
func BenchmarkDecode(b *testing.B) {
	m := &Received{Message: Message{
		Metadata: map[string]string{
			"specversion": "1.0", "id": "order-1", "source": "https://shop.example/orders/eu", "type": "order.placed",
			"datacontenttype": "application/json", MetaAcceptedAt: "1765000000000",
		},
		Body: []byte(`{"total":12}`),
	}}
	b.Run("once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEvent(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeated", func(b *testing.B) {
		var d Decoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The accepted-at text shared by the events of one millisecond is that
// millisecond's, whatever came before it.
func TestFormatMillisIsEachMillisecondsOwn(t *testing.T) {
	for _, ms := range []int64{1765000000000, 1765000000000, 1765000000001, 1765000000000, 0, -1, -1, 9} {
		if got, want := formatMillis(ms), strconv.FormatInt(ms, 10); got != want {
			t.Errorf("formatMillis(%d) = %q, want %q", ms, got, want)
		}
	}
}
