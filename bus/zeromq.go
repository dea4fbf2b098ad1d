package bus

import (
	"context"
	"fmt"
	"net"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// openZeroMQ binds (or connects) the PUB socket of a route's zmq+tcp://
// topic target. The socket lives as long as the route's dispatcher: it is
// closed when the route is paused, replaced or deleted, and at shutdown.
func (b *Bus) openZeroMQ(r *router.Route, stats *delivery.Counters) (delivery.Target, func(context.Context) error, error) {
	addr, connect, err := router.ZeroMQEndpoint(r.Target.Topic.URL)
	if err != nil {
		return nil, nil, &spec.FieldError{Path: "target.topic.url", Message: err.Error()}
	}
	opts := r.Target.Topic.ZeroMQ.Options()
	pub, err := zeromq.NewPublisher(zeromq.PublisherOptions{
		Addr:    addr,
		Connect: connect,
		HWM:     opts.HWM,
		Drop:    opts.WhenFull == router.ZeroMQDrop,
		Log:     b.log.With("route", r.Name),
	})
	if err != nil {
		return nil, nil, &spec.FieldError{Path: "target.topic.url", Message: err.Error()}
	}
	t := &delivery.ZeroMQTarget{Pub: pub, Options: opts, Route: r.Name, Counters: stats, Log: b.log}
	return t, func(context.Context) error { return pub.Close() }, nil
}

// checkZeroMQBind refuses a route whose ZeroMQ target binds an address
// another route's target binds: two sockets cannot bind one port, and
// sharing one would mix two routes' options on one socket.
func (b *Bus) checkZeroMQBind(r router.Route) error {
	addr, ok := zeromqBind(r)
	if !ok {
		return nil
	}
	for name, other := range b.routes {
		if name == r.Name {
			continue
		}
		if oaddr, ok := zeromqBind(other.route); ok && sameBind(addr, oaddr) {
			return &spec.FieldError{Path: "target.topic.url", Message: fmt.Sprintf("route %q already binds %s: give this route another port, or connect to a proxy with ?connect=true", name, oaddr)}
		}
	}
	return nil
}

func zeromqBind(r router.Route) (string, bool) {
	t := r.Target.Topic
	if t == nil || !t.IsZeroMQ() {
		return "", false
	}
	addr, connect, err := router.ZeroMQEndpoint(t.URL)
	if err != nil || connect {
		return "", false
	}
	return addr, true
}

// sameBind reports whether two binds clash: the same port on the same
// host, or on any host when one binds every interface. Port 0 (any free
// port) never clashes.
func sameBind(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	every := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || every(ha) || every(hb)
}
