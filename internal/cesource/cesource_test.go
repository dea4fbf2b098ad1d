package cesource

import (
	"net/url"
	"testing"
	"unsafe"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Whatever the source, Format says what the SDK says.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		"/orders", "orders/api", "", "/", "*", "a:b/c", "./a:b", "/a:b",
		"/with space", "/%41", "/caf%C3%A9", "/é", "/a?", "/a?b=c", "/a#f", "#f", "?q",
		"https://example.com/a", "urn:event:1", "mailto:x@example.com", "//host/p", "//user@/p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		ref := types.URIRef{URL: *u}
		if got, want := Format(&ref), ref.String(); got != want {
			t.Errorf("Format(%q) = %q, want %q as the SDK formats it", s, got, want)
		}
	})
}

// A relative source is the event's own string, not a new one.
func TestARelativeSourceIsNotCopied(t *testing.T) {
	e := event.New()
	e.SetSource("/orders/api")
	c := e.Context.(*event.EventContextV1)
	if got := Of(&e); unsafe.StringData(got) != unsafe.StringData(c.Source.Path) {
		t.Errorf("Of returned a copy of %q", got)
	}
	if got := testing.AllocsPerRun(100, func() { Of(&e) }); got != 0 {
		t.Errorf("Of allocated %v times", got)
	}
	e.SetSource("https://example.com/orders")
	if got := Of(&e); got != "https://example.com/orders" {
		t.Errorf("Of = %q", got)
	}
}
