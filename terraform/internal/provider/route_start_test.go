package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/eventbus-go/eventbus/sdk"
)

// A route created with start = "earliest" gets the events its bus archived
// before Terraform created it, marked as replayed.
func TestAccRouteStartsFromTheArchive(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBusWith(t) // serve's default backend keeps an archive
	client := newClient(t, endpoint)
	for _, id := range []string{"a-1", "a-2"} {
		e := event.New()
		e.SetID(id)
		e.SetType("order.created")
		e.SetSource("/shop")
		if _, err := client.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Ce-Id") + " " + r.Header.Get("Ce-Replay")
	}))
	defer hook.Close()

	config := providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_route" "late" {
  name  = "late"
  start = "earliest"
  target {
    http { url = %q }
  }
  delivery { max_inflight = 1 }
}
`, hook.URL)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "late"),
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("eventbus_route.late", "start", "earliest"),
				checkRouteOnBus(client, "late", func(r sdk.Route) error {
					if r.Start != "earliest" {
						return fmt.Errorf("start %q on the bus, want earliest", r.Start)
					}
					return nil
				}),
			),
		}},
	})
	for _, id := range []string{"a-1", "a-2"} {
		select {
		case mark := <-got:
			if mark != id+" late.start" {
				t.Fatalf("delivered %q, want %q: the archived event, marked by the route's start replay", mark, id+" late.start")
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("event %s archived before the route was created never reached it", id)
		}
	}
}
