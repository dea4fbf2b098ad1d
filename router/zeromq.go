package router

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventbus-go/eventbus/spec"
)

// ZeroMQScheme is the URL scheme of a topic target that publishes on a
// ZeroMQ PUB socket instead of a backend: zmq+tcp://host:port binds there,
// zmq+tcp://host:port?connect=true connects to a peer there.
const ZeroMQScheme = "zmq+tcp"

// ZeroMQ defaults.
const (
	DefaultZeroMQHWM        = 1000
	MaxZeroMQHWM            = 1_000_000
	DefaultZeroMQTopicFrame = "{type}"
	maxZeroMQTopicFrame     = 256
)

// When a ZeroMQ subscriber's queue is full.
const (
	ZeroMQBlock = "block" // wait for room: the route's delivery waits
	ZeroMQDrop  = "drop"  // that subscriber misses the event, counted
)

// ZeroMQTopic tunes a topic target whose URL is zmq+tcp://.
type ZeroMQTopic struct {
	// HWM is the high-water mark: the queue of each connected subscriber,
	// in events. 0 means DefaultZeroMQHWM.
	HWM int `json:"hwm,omitempty"`
	// WhenFull is block (the default) or drop.
	WhenFull string `json:"when_full,omitempty"`
	// TopicFrame is the first frame of each message, which subscribers
	// filter on by prefix: text with {type}, {source} and {subject}
	// replaced by the event's attributes. Empty means "{type}".
	TopicFrame string `json:"topic_frame,omitempty"`
}

// IsZeroMQ reports whether a topic target publishes on ZeroMQ.
func (t *TopicTarget) IsZeroMQ() bool {
	return strings.HasPrefix(t.URL, ZeroMQScheme+"://")
}

// ZeroMQEndpoint reads a zmq+tcp:// URL: the host:port and whether to
// connect (rather than bind) there.
func ZeroMQEndpoint(raw string) (addr string, connect bool, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != ZeroMQScheme {
		return "", false, fmt.Errorf("%q is not a URL such as zmq+tcp://127.0.0.1:5556", raw)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", false, fmt.Errorf("%q: write host:port, such as zmq+tcp://127.0.0.1:5556 (0.0.0.0 binds every interface)", raw)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", false, fmt.Errorf("%q: port %q is not a number from 0 to 65535", raw, port)
	}
	if u.Path != "" && u.Path != "/" || u.User != nil || u.Fragment != "" {
		return "", false, fmt.Errorf("%q: only host:port and ?connect=true may be given", raw)
	}
	q := u.Query()
	for k := range q {
		if k != "connect" {
			return "", false, fmt.Errorf("%q: unknown option %q (only connect=true is known)", raw, k)
		}
	}
	if c := q.Get("connect"); c != "" {
		connect, err = strconv.ParseBool(c)
		if err != nil {
			return "", false, fmt.Errorf("%q: connect=%q: write true or false", raw, c)
		}
	}
	if connect && (host == "" || port == "0") {
		return "", false, fmt.Errorf("%q: connecting needs a host and a port", raw)
	}
	return net.JoinHostPort(host, port), connect, nil
}

// Options returns z with defaults filled in; z may be nil.
func (z *ZeroMQTopic) Options() ZeroMQTopic {
	var o ZeroMQTopic
	if z != nil {
		o = *z
	}
	if o.HWM == 0 {
		o.HWM = DefaultZeroMQHWM
	}
	if o.WhenFull == "" {
		o.WhenFull = ZeroMQBlock
	}
	if o.TopicFrame == "" {
		o.TopicFrame = DefaultZeroMQTopicFrame
	}
	return o
}

var zeromqFrameFields = strings.NewReplacer("{type}", "", "{source}", "", "{subject}", "")

// Frame renders the topic frame for an event with these attributes.
func (z ZeroMQTopic) Frame(typ, source, subject string) string {
	return strings.NewReplacer("{type}", typ, "{source}", source, "{subject}", subject).Replace(z.TopicFrame)
}

func (t *TopicTarget) validateZeroMQ() error {
	if _, _, err := ZeroMQEndpoint(t.URL); err != nil {
		return &spec.FieldError{Path: "target.topic.url", Message: err.Error()}
	}
	if t.Name != "" {
		return &spec.FieldError{Path: "target.topic.name", Message: "must be empty for a zmq+tcp:// target: its topic frame is set by target.topic.zeromq.topic_frame"}
	}
	z := t.ZeroMQ
	if z == nil {
		return nil
	}
	if z.HWM < 0 || z.HWM > MaxZeroMQHWM {
		return &spec.FieldError{Path: "target.topic.zeromq.hwm", Message: fmt.Sprintf("%d: must be from 1 to %d (0 means %d)", z.HWM, MaxZeroMQHWM, DefaultZeroMQHWM)}
	}
	switch z.WhenFull {
	case "", ZeroMQBlock, ZeroMQDrop:
	default:
		return &spec.FieldError{Path: "target.topic.zeromq.when_full", Message: fmt.Sprintf("%q: use %q or %q", z.WhenFull, ZeroMQBlock, ZeroMQDrop)}
	}
	if len(z.TopicFrame) > maxZeroMQTopicFrame {
		return &spec.FieldError{Path: "target.topic.zeromq.topic_frame", Message: fmt.Sprintf("is %d bytes: at most %d", len(z.TopicFrame), maxZeroMQTopicFrame)}
	}
	if rest := zeromqFrameFields.Replace(z.TopicFrame); strings.ContainsAny(rest, "{}") {
		return &spec.FieldError{Path: "target.topic.zeromq.topic_frame", Message: fmt.Sprintf("%q: only {type}, {source} and {subject} may appear in braces", z.TopicFrame)}
	}
	return nil
}
