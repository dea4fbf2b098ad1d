package adapters

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/cesource"
)

// Metadata the bus sets on messages beside the event's attributes. The names
// start with MetaPrefix, which no CloudEvents attribute name can (those are
// lower-case letters and digits only); drivers carry them like any other
// metadata, and DecodeEvent leaves them out of the event.
const (
	MetaPrefix = "eventbus-"
	// MetaDeliverAt holds a message back until this time (Unix
	// milliseconds). Backends with Capabilities.Delay honour it.
	MetaDeliverAt = "eventbus-deliver-at"
	// MetaOrderingKey groups messages: those with the same key are received
	// one at a time, in order. Backends with Capabilities.Ordering honour it.
	MetaOrderingKey = "eventbus-ordering-key"
	// MetaAttempts counts the delivery attempts already made.
	MetaAttempts = "eventbus-attempts"
	// MetaFirstAttempt is when the first attempt was made (Unix milliseconds).
	MetaFirstAttempt = "eventbus-first-attempt"
	// MetaAcceptedAt is when ingress took in the event it stored (Unix
	// milliseconds), before its dedup, matching and any wait for room; for
	// a replayed event, when the replay sent it again.
	MetaAcceptedAt = "eventbus-accepted-at"
	// MetaRedrivenAt marks an event put back from the dead-letter channel
	// (Unix milliseconds), so a backend that deduplicates by content (SQS
	// FIFO) does not take the redriven copy for the first one.
	MetaRedrivenAt = "eventbus-redriven-at"
)

// ExtReplay is the CloudEvents extension that marks an event replayed from
// a bus's archive: its value is the replay's id. Unlike the bus's own
// metadata it reaches the target, which can tell a replayed event from
// the original.
const ExtReplay = "replay"

// DueIn says how long until a message whose MetaDeliverAt is deliverAt is
// due; zero or less means now. No value, or one that is not Unix
// milliseconds, counts as due: delivering it beats losing it.
func DueIn(deliverAt string, now time.Time) time.Duration {
	if deliverAt == "" {
		return 0
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(deliverAt), 10, 64)
	if err != nil {
		return 0
	}
	return time.UnixMilli(ms).Sub(now)
}

// EncodeEvent turns a CloudEvent into the canonical message every backend
// stores: its data as the body, and each context attribute and extension,
// formatted as a CloudEvents string, as metadata under its own name.
func EncodeEvent(e *event.Event) (*Message, error) { return EncodeStamped(e, Stamp{}) }

// Stamp is the metadata the bus gives an event it stores, beside the
// event's attributes: when it was accepted, and what its route asks of the
// channel. A zero field adds nothing.
type Stamp struct {
	AcceptedAt  time.Time // MetaAcceptedAt
	OrderingKey string    // MetaOrderingKey
	DeliverAt   time.Time // MetaDeliverAt
}

// EncodeStamped is EncodeEvent with s's metadata added.
func EncodeStamped(e *event.Event, s Stamp) (*Message, error) {
	md := make(map[string]string, 8+len(e.Extensions()))
	if err := EachMetadata(e, s, func(name, value string) { md[name] = value }); err != nil {
		return nil, err
	}
	return &Message{Body: e.Data(), Metadata: md}, nil
}

// EachMetadata calls f with each entry of EncodeStamped(e, s)'s metadata,
// without the map: for a driver that stores the entries in a form of its
// own. Its error is EncodeStamped's, and f may have been called before it.
func EachMetadata(e *event.Event, s Stamp, f func(name, value string)) error {
	var err error
	if c, ok := e.Context.(*event.EventContextV1); ok {
		err = eachV1(c, f)
	} else {
		err = eachAttribute(e, f)
	}
	if err != nil {
		return err
	}
	if !s.AcceptedAt.IsZero() {
		f(MetaAcceptedAt, formatMillis(s.AcceptedAt.UnixMilli()))
	}
	if s.OrderingKey != "" {
		f(MetaOrderingKey, s.OrderingKey)
	}
	if !s.DeliverAt.IsZero() {
		f(MetaDeliverAt, strconv.FormatInt(s.DeliverAt.UnixMilli(), 10))
	}
	return nil
}

// lastMillis is the MetaAcceptedAt value formatted last. The events a bus
// takes in within one millisecond share it, rather than each formatting
// (and allocating) the same digits.
var lastMillis atomic.Pointer[millisText]

type millisText struct {
	ms   int64
	text string
}

// formatMillis is strconv.FormatInt(ms, 10), the text shared with the
// previous caller when it formatted the same millisecond.
func formatMillis(ms int64) string {
	if last := lastMillis.Load(); last != nil && last.ms == ms {
		return last.text
	}
	t := &millisText{ms: ms, text: strconv.FormatInt(ms, 10)}
	lastMillis.Store(t)
	return t.text
}

// eachV1 is EachMetadata's attributes for the one version every event here
// has: the same entries, reading the context's fields directly rather than
// boxing each through the SDK's generic attribute accessors.
func eachV1(c *event.EventContextV1, f func(name, value string)) error {
	f("specversion", event.CloudEventsVersionV1)
	f("id", c.ID)
	f("source", cesource.Format(&c.Source))
	f("type", c.Type)
	if c.Subject != nil {
		f("subject", *c.Subject)
	}
	if c.Time != nil {
		f("time", types.FormatTime(c.Time.Time))
	}
	if c.DataContentType != nil {
		f("datacontenttype", *c.DataContentType)
	}
	if c.DataSchema != nil {
		f("dataschema", c.DataSchema.String())
	}
	return eachExtension(c.Extensions, f)
}

// eachAttribute is EachMetadata's attributes for any version the SDK knows.
func eachAttribute(e *event.Event, f func(name, value string)) error {
	version := spec.VS.Version(e.SpecVersion())
	if version == nil {
		return errcode.Errorf(errcode.InvalidArgument, "specversion %q is not supported", e.SpecVersion())
	}
	for _, attr := range version.Attributes() {
		v := attr.Get(e.Context)
		if v == nil {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return errcode.Errorf(errcode.InvalidArgument, "attribute %s: %w", attr.Name(), err)
		}
		f(attr.Name(), s)
	}
	return eachExtension(e.Extensions(), f)
}

// eachExtension formats the extensions, leaving out any named like the
// bus's own metadata (MetaPrefix, which only an event of an older
// CloudEvents version can carry): the stamp says those, as Decode leaves
// them out of the event.
func eachExtension(exts map[string]any, f func(name, value string)) error {
	for name, v := range exts {
		if strings.HasPrefix(name, MetaPrefix) {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return errcode.Errorf(errcode.InvalidArgument, "extension %s: %w", name, err)
		}
		f(name, s)
	}
	return nil
}

// DecodeEvent rebuilds the CloudEvent that EncodeEvent encoded. Extensions
// come back as strings, as in every CloudEvents binary binding.
func DecodeEvent(m *Received) (*event.Event, error) {
	return Decode(m.LoggableID, m.Body, m.Metadata)
}

// Decode is DecodeEvent for a message's parts; id names the message in
// errors.
func Decode(id string, body []byte, metadata map[string]string) (*event.Event, error) {
	return (*Decoder)(nil).decode(id, body, metadata) // nothing to remember
}

// A Decoder is DecodeEvent for a goroutine that decodes message after
// message, such as a dispatcher's worker: it parses a source once for as
// long as the messages repeat it, as the events of one route mostly do.
// The zero value is ready to use; a nil *Decoder remembers nothing (it is
// Decode). A Decoder is not safe for concurrent use.
type Decoder struct {
	// The last source parsed, as written (a copy of the message's) and
	// as parsed.
	source    string
	sourceRef types.URIRef
}

// Decode is DecodeEvent.
func (d *Decoder) Decode(m *Received) (*event.Event, error) {
	return d.decode(m.LoggableID, m.Body, m.Metadata)
}

func (d *Decoder) decode(id string, body []byte, metadata map[string]string) (*event.Event, error) {
	var e event.Event
	var err error
	if sv := metadata["specversion"]; sv == event.CloudEventsVersionV1 {
		e, err = d.decodeV1(metadata)
	} else {
		version := spec.VS.Version(sv)
		if version == nil {
			return nil, fmt.Errorf("message %s has no CloudEvents specversion", id)
		}
		e, err = decodeAttributes(version, metadata)
	}
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	if len(body) > 0 {
		e.DataEncoded = body
	}
	return &e, nil
}

// v1 is the SDK's description of CloudEvents 1.0.
var v1 = spec.VS.Version(event.CloudEventsVersionV1)

// decodeV1 is Decode's attributes for the one version every event here
// has: the same setters the SDK's generic attributes call, without boxing
// each value and looking its attribute up by name.
func (d *Decoder) decodeV1(metadata map[string]string) (event.Event, error) {
	c := &event.EventContextV1{}
	for name, value := range metadata {
		var err error
		switch name {
		case "specversion":
		case "id":
			err = c.SetID(value)
		case "source":
			err = d.setSource(c, value)
		case "type":
			err = c.SetType(value)
		case "subject":
			err = c.SetSubject(value)
		case "datacontenttype":
			err = c.SetDataContentType(value)
		case "dataschema":
			err = c.SetDataSchema(value)
		case "time":
			err = v1.Attribute(name).Set(c, value) // its parse error, word for word
		default:
			if strings.HasPrefix(name, MetaPrefix) {
				continue // the bus's own
			}
			if attr := v1.Attribute(name); attr != nil { // an attribute's name in another case
				err = attr.Set(c, value)
			} else {
				err = c.SetExtension(name, value)
			}
		}
		if err != nil {
			return event.Event{}, fmt.Errorf("attribute %s: %w", name, err)
		}
	}
	return event.Event{Context: c}, nil
}

// setSource sets c's source as SetSource does, parsing it only when it is
// not the last source this decoder parsed.
func (d *Decoder) setSource(c *event.EventContextV1, source string) error {
	if d == nil {
		return c.SetSource(source)
	}
	if source == d.source && source != "" {
		c.Source = d.sourceRef
		return nil
	}
	source = strings.Clone(source) // kept: not the whole of a message's metadata
	if err := c.SetSource(source); err != nil {
		return err
	}
	d.source, d.sourceRef = source, c.Source
	return nil
}

// decodeAttributes is Decode's attributes for any version the SDK knows.
func decodeAttributes(version spec.Version, metadata map[string]string) (event.Event, error) {
	e := event.New(version.String())
	for name, value := range metadata {
		if name == "specversion" || strings.HasPrefix(name, MetaPrefix) {
			continue
		}
		var err error
		if attr := version.Attribute(name); attr != nil {
			err = attr.Set(e.Context, value)
		} else {
			err = e.Context.SetExtension(name, value)
		}
		if err != nil {
			return event.Event{}, fmt.Errorf("attribute %s: %w", name, err)
		}
	}
	return e, nil
}
