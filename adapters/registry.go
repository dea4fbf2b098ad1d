package adapters

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/eventbus-go/eventbus/errcode"
)

// Opener connects to the backend a URL names and returns its driver.
type Opener func(ctx context.Context, u *url.URL) (Driver, error)

// Registry maps URL schemes to Openers and keeps one open Backend per URL, so
// every route with the same backend URL shares one connection.
type Registry struct {
	openers map[string]Opener

	mu   sync.Mutex
	open map[string]*Backend
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{openers: map[string]Opener{}, open: map[string]*Backend{}}
}

// Register makes scheme ("mem", "rabbit", ...) open with o. Call it before
// the registry is used; registering a scheme twice panics, as it is a
// programming error.
func (r *Registry) Register(scheme string, o Opener) {
	if _, dup := r.openers[scheme]; dup {
		panic("adapters: scheme registered twice: " + scheme)
	}
	r.openers[scheme] = o
}

// Schemes lists the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	s := make([]string, 0, len(r.openers))
	for k := range r.openers {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Check reports whether rawURL names a registered scheme, without connecting.
func (r *Registry) Check(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error // its message repeats the URL, password and all
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return errcode.Errorf(errcode.InvalidArgument, "backend URL %s: %v", Redact(rawURL), err)
	}
	if _, ok := r.openers[u.Scheme]; !ok {
		return errcode.Errorf(errcode.InvalidArgument, "backend URL %q: unknown scheme %q (known: %s)", Redact(rawURL), u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	return nil
}

// Open returns the Backend for rawURL, connecting and wrapping the driver
// (New) on first use.
func (r *Registry) Open(ctx context.Context, rawURL string) (*Backend, error) {
	if err := r.Check(rawURL); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.open[rawURL]; ok {
		return b, nil
	}
	u, _ := url.Parse(rawURL) // Check parsed it
	d, err := r.openers[u.Scheme](ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open backend %s: %w", Redact(rawURL), err)
	}
	b, err := New(d)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	r.open[rawURL] = b
	return b, nil
}

// Opened returns the backends opened so far, keyed by their redacted URL.
func (r *Registry) Opened() map[string]*Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]*Backend, len(r.open))
	for k, b := range r.open {
		m[Redact(k)] = b
	}
	return m
}

// Close closes every opened backend and forgets them.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for k, b := range r.open {
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close backend %s: %w", Redact(k), err))
		}
		delete(r.open, k)
	}
	return errors.Join(errs...)
}

// Redact hides the password of a backend URL, for logs and API answers.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return rawURL // as written: url.URL would print "mem://" as "mem:"
	}
	return u.Redacted()
}
