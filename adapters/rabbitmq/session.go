package rabbitmq

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// Redial backoff, and how long one dial may take.
const (
	dialTimeout    = 5 * time.Second
	backoffInitial = 100 * time.Millisecond
	backoffMax     = 2 * time.Second
)

// session keeps one AMQP connection up: when it drops, a goroutine redials
// with backoff until it is back or the session is closed.
type session struct {
	url  string // with credentials: never in errors
	addr string // host:port, for errors
	cfg  amqp.Config

	mu      sync.Mutex
	conn    *amqp.Connection // nil while down
	lastErr error            // why it is down
	up      chan struct{}    // closed while conn is up
	gone    chan struct{}    // closed when conn has dropped
	closed  bool

	stop chan struct{} // closed by close
	done chan struct{} // closed when the redial goroutine has stopped
}

// dial connects once, over TLS with tlsConfig unless it is nil; it fails
// with Unavailable if the broker cannot be reached now.
func dial(ctx context.Context, url, addr string, tlsConfig *tls.Config) (*session, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("eventbus")
	s := &session{
		url:  url,
		addr: addr,
		cfg:  amqp.Config{Dial: amqp.DefaultDial(dialTimeout), Properties: props, TLSClientConfig: tlsConfig},
		up:   make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		s.cfg.Dial = amqp.DefaultDial(min(dialTimeout, time.Until(deadline)))
	}
	conn, err := amqp.DialConfig(url, s.cfg)
	s.cfg.Dial = amqp.DefaultDial(dialTimeout)
	if err != nil {
		if hint := adapters.TLSHint(err); hint != "" {
			return nil, errcode.Errorf(errcode.FailedPrecondition, "connect to RabbitMQ at %s over TLS: %w%s", addr, err, hint)
		}
		return nil, errcode.Errorf(codeOf(err), "connect to RabbitMQ at %s (check that it runs, and the URL's user, password and vhost): %w", addr, err)
	}
	s.setUp(conn) // cannot fail: nobody could close s yet
	go s.keep(conn)
	return s, nil
}

// keep waits for the connection to drop and redials, until close.
func (s *session) keep(conn *amqp.Connection) {
	defer close(s.done)
	for {
		dropped := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-s.stop:
			return
		case err := <-dropped:
			s.setDown(err)
		}
		if conn = s.redial(); conn == nil || !s.setUp(conn) {
			return
		}
	}
}

// redial dials with exponential backoff until it connects (returning the
// connection) or the session is closed (returning nil).
func (s *session) redial() *amqp.Connection {
	wait := backoffInitial
	for {
		timer := time.NewTimer(wait)
		select {
		case <-s.stop:
			timer.Stop()
			return nil
		case <-timer.C:
		}
		conn, err := amqp.DialConfig(s.url, s.cfg)
		if err == nil {
			return conn
		}
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		wait = min(2*wait, backoffMax)
	}
}

// setUp makes conn the live connection; it reports false, closing conn,
// when the session was closed meanwhile.
func (s *session) setUp(conn *amqp.Connection) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = conn.Close()
		return false
	}
	s.conn, s.lastErr = conn, nil
	s.gone = make(chan struct{})
	close(s.up)
	return true
}

func (s *session) setDown(err *amqp.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = nil
	s.up = make(chan struct{})
	close(s.gone)
	s.lastErr = err
	if err == nil {
		s.lastErr = amqp.ErrClosed
	}
}

// connection returns the live connection, or Unavailable while there is
// none.
func (s *session) connection() (*amqp.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		if s.closed {
			return nil, errcode.Errorf(errcode.FailedPrecondition, "RabbitMQ backend at %s is closed", s.addr)
		}
		cause := s.lastErr
		if cause == nil { // dropped a moment ago; keep has not recorded why yet
			cause = amqp.ErrClosed
		}
		return nil, errcode.Errorf(errcode.Unavailable, "RabbitMQ at %s is unreachable, reconnecting (retry later): %w", s.addr, cause)
	}
	return s.conn, nil
}

// await returns the live connection as soon as there is one, or nil when
// ctx is done or the session is closed first.
func (s *session) await(ctx context.Context) *amqp.Connection {
	for {
		s.mu.Lock()
		conn, wake, closed := s.conn, s.up, s.closed
		if conn != nil { // dropped, and keep has not noticed yet
			wake = s.gone
		}
		s.mu.Unlock()
		if closed {
			return nil
		}
		if conn != nil && !conn.IsClosed() {
			return conn
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		}
	}
}

func (s *session) unavailable(err error) error {
	return errcode.Errorf(errcode.Unavailable, "RabbitMQ at %s is unavailable, retry later: %w", s.addr, err)
}

// close stops redialling and closes the connection. Later calls do nothing.
func (s *session) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn := s.conn
	s.conn = nil
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	if conn == nil {
		return nil
	}
	return ignoreClosed(conn.Close())
}
