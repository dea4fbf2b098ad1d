package bus_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// A route's transform reshapes each event before delivery, and its retries
// send the same result; an event it makes nothing of is dropped, and one it
// fails on is dead-lettered as it was stored, with the program's reason.
func TestTransformReshapesEventsBeforeDelivery(t *testing.T) {
	hook := bustest.NewWebhook(t, func(call int) int {
		if call == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r := fastRetries(route("r", hook.URL, ""), 3)
	r.Transform = `if .data.n == "skip" then empty
elif .data.n == "bad" then error("no customer for \(.data.n)")
else .data = {id: .data.n, upper: (.data.n | ascii_upcase)} | .type = "t.v2" end`
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL

	bustest.Emit(t, base, "a", nil)
	d := hook.Next(t)
	if got := string(d.Body); got != `{"id":"a","upper":"A"}` {
		t.Errorf("delivered data %s; want the transform's", got)
	}
	if d.Header.Get("Ce-Type") != "t.v2" || d.Header.Get("Ce-Id") != "a" || d.Header.Get("Ce-Source") != "/src" {
		t.Errorf("delivered attributes %v; want type t.v2 and the event's id and source", d.Header)
	}

	bustest.Emit(t, base, "skip", nil)
	bustest.Emit(t, base, "bad", nil)
	testkit.Eventually(t, 10*time.Second, "one event dropped and one dead-lettered", func() bool {
		st := stats(t, base, "r")
		return st.Dropped == 1 && st.DeadLetters == 1
	})
	var page deadLetterPage
	getJSON(t, base+"/v1/routes/r/dlq", &page)
	if len(page.Events) != 1 {
		t.Fatalf("%d dead letters; want 1", len(page.Events))
	}
	dl := page.Events[0]
	if !strings.Contains(fmt.Sprint(dl["deadletterreason"]), "no customer for bad") {
		t.Errorf("dead letter reason %v; want the program's error", dl["deadletterreason"])
	}
	if fmt.Sprint(dl["data"]) != "map[n:bad]" || dl["type"] != "t" {
		t.Errorf("dead letter %v; want the event as it was stored, so a redrive transforms it again", dl)
	}
	if n := len(hook.Deliveries()); n != 1 {
		t.Errorf("the target took %d events; want only a's", n)
	}
}

// A transform that does not compile is refused when the route is saved,
// naming the field, line and column.
func TestTransformMistakesAreRefusedWithTheirPosition(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	status, body := do(t, "PUT", base+"/v1/routes/r", `{"target":{"http":{"url":"http://127.0.0.1:1/"}},"transform":".data |=\n  {email: .email"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"transform"`) || !strings.Contains(body, "line 2, column") {
		t.Fatalf("PUT with a broken transform: %d %s; want 400 naming transform, line 2 and the column", status, body)
	}
}

// POST /v1/test-pattern shows what a transform makes of a matching event,
// before any route uses it.
func TestTestPatternTriesATransform(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	event := `{"specversion":"1.0","id":"1","source":"/s","type":"a","data":{"email":"A@B.EXAMPLE"}}`
	status, body := do(t, "POST", base+"/v1/test-pattern", `{"match":{"type":["a"]},"transform":".data.email |= ascii_downcase","event":`+event+`}`)
	if status != http.StatusOK || !strings.Contains(body, `"matched":true`) || !strings.Contains(body, `"email":"a@b.example"`) {
		t.Fatalf("test-pattern with a transform: %d %s; want the match and the transformed event", status, body)
	}
	status, body = do(t, "POST", base+"/v1/test-pattern", `{"match":{"type":["a"]},"transform":"error(\"boom\")","event":`+event+`}`)
	if status != http.StatusOK || !strings.Contains(body, `"error":"transform: error: boom"`) {
		t.Fatalf("test-pattern with a failing transform: %d %s; want the error the bus would dead-letter with", status, body)
	}
	status, body = do(t, "POST", base+"/v1/test-pattern", `{"match":{"type":["a"]},"transform":".data |= {","event":`+event+`}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"transform"`) {
		t.Fatalf("test-pattern with a broken transform: %d %s; want 400 naming transform", status, body)
	}
}
