package httpbinding

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Write reads a 1.0 event's fields directly; what it sets must be what the
// SDK's attribute accessors give, for every attribute and odd value.
func TestWriteOfA10EventIsWhatTheAttributesSay(t *testing.T) {
	full := event.New()
	full.SetID("id 1 ü")
	full.SetSource("https://example.com/src?q=1")
	full.SetType("t\"x")
	full.SetSubject("sub ject")
	full.SetTime(time.Date(2026, 3, 2, 8, 0, 0, 500, time.FixedZone("", -5*3600)))
	full.SetDataSchema("https://example.com/s")
	full.SetDataContentType("application/json; charset=utf-8")
	full.SetExtension("myext", "v 1")
	zeroTime := event.New()
	zeroTime.SetID("1")
	zeroTime.SetSource("/s")
	zeroTime.SetType("t")
	// As a structured event with "time":"0001-01-01T00:00:00Z" reads.
	zeroTime.Context.(*event.EventContextV1).Time = &types.Timestamp{}
	for name, e := range map[string]event.Event{"every attribute": full, "zero time": zeroTime} {
		got, want := http.Header{}, http.Header{}
		if err := Write(got, &e); err != nil {
			t.Fatal(err)
		}
		if err := writeAttributes(want, &e); err != nil {
			t.Fatal(err)
		}
		for k, v := range e.Extensions() {
			want.Set(extensionHeader(k), percentEncode(v.(string)))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
}
