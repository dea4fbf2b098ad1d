package bus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router"
)

// target receives a route's events. Deliver returns nil once the target has
// taken the event; any error means "try again later".
type target interface {
	Deliver(ctx context.Context, e *event.Event) error
}

// httpTarget posts each event in CloudEvents binary mode. A 2xx answer
// acknowledges it; anything else, a timeout or a refused connection fails
// the attempt.
type httpTarget struct {
	client  *http.Client
	url     string
	headers map[string]string
	timeout time.Duration
}

func newHTTPTarget(client *http.Client, t *router.HTTPTarget) *httpTarget {
	return &httpTarget{client: client, url: t.URL, headers: t.Headers, timeout: time.Duration(t.Timeout)}
}

func (t *httpTarget) Deliver(ctx context.Context, e *event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(e.Data()))
	if err != nil {
		return err
	}
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	if err := writeBinary(req.Header, e); err != nil {
		return err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the body so the connection can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &targetError{status: resp.StatusCode, body: string(snippet)}
}

// targetError is a target's refusal, kept with the event when it is
// dead-lettered.
type targetError struct {
	status int
	body   string
}

func (e *targetError) Error() string {
	msg := "target answered " + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	if e.body != "" {
		msg += fmt.Sprintf(": %q", e.body)
	}
	return msg
}

// newHTTPClient is the client every HTTP target of a bus shares: keep-alive
// connections sized for many deliveries in flight.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: tr}
}
