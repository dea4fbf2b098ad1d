// Package zeromq speaks ZeroMQ's PUB/SUB protocol (ZMTP 3.0 over TCP) for
// two things that are not backends: a route's topic target whose URL is
// zmq+tcp://host:port (a Publisher), and a source that feeds a bus from
// publishers that already exist (a Subscriber).
//
// Connections are opened with github.com/go-zeromq/zmq4's ZMTP handshake,
// but the PUB and SUB sockets are our own, because zmq4's PUB socket keeps
// one unbounded queue shared by every subscriber: one stalled subscriber
// stalls the others and, with its high-water mark set, messages are
// dropped silently for all of them. Here every connected subscriber has
// its own bounded queue (HWM messages) and its own writer goroutine:
//
//   - block (the default): Publish waits until every matching
//     subscriber's queue has room, or its context ends;
//   - drop: a subscriber whose queue is full misses the message; Publish
//     returns how many copies it dropped, so the caller counts them.
//
// A subscriber matches a message when one of its subscriptions is a
// prefix of the message's first frame, as in ZeroMQ. A message no
// subscriber asked for is not a drop: it is discarded as a PUB socket
// does.
//
// Every network input is bounded: a frame larger than the configured
// maximum, a message of more than MaxFrames frames, a subscription longer
// than MaxSubscriptionBytes or more than MaxSubscriptions per connection
// closes that connection; a handshake must finish within HandshakeTimeout.
// A Publisher accepts at most MaxPeers subscribers at once.
package zeromq
