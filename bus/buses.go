package bus

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// PutBus creates or updates a bus through the API and keeps it in the
// store. expected works as in PutRoute.
func (b *Bus) PutBus(ctx context.Context, bus router.Bus, expected int64) (router.Bus, bool, error) {
	if err := bus.Validate(); err != nil {
		return router.Bus{}, false, err
	}
	if bus.Backend != "" {
		if err := b.backends.Check(bus.Backend); err != nil {
			return router.Bus{}, false, &spec.FieldError{Path: "backend", Message: err.Error()}
		}
	}
	if expected == store.AnyVersion && bus.Version > 0 {
		expected = bus.Version
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old, exists := b.buses[bus.Name]
	if exists && old.Origin == router.OriginConfig {
		return router.Bus{}, false, errConfigOwned("bus", bus.Name)
	}
	v, err := b.persist(ctx, store.KindBus, bus.Name, bus, expected)
	if err != nil {
		return router.Bus{}, false, err
	}
	bus.Version, bus.Origin = v, router.OriginAPI
	b.setBus(bus)
	return bus, !exists || old.Origin == router.OriginBuiltin, nil
}

// DeleteBus removes a bus that has no routes; expected works as in
// DeleteRoute. Deleting the default bus resets it: it always exists, and
// goes back to the config's default backend.
func (b *Bus) DeleteBus(ctx context.Context, name string, expected int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bus, ok := b.buses[name]
	switch {
	case !ok:
		return errcode.Errorf(errcode.NotFound, "bus %q does not exist", name)
	case bus.Origin == router.OriginConfig:
		return errConfigOwned("bus", name)
	case name == router.DefaultBus:
		if bus.Origin == router.OriginBuiltin {
			return nil
		}
		if err := b.store.Delete(ctx, store.KindBus, name, expected); err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeError(err, "bus", name, expected)
		}
		b.dropBus(name)
		return nil
	}
	if routes := b.routesOf(name); len(routes) > 0 {
		return errcode.Errorf(errcode.FailedPrecondition, "bus %q still has routes (%s): delete them first", name, strings.Join(routes, ", "))
	}
	if err := b.store.Delete(ctx, store.KindBus, name, expected); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "bus", name, expected)
	}
	b.dropBus(name)
	return nil
}

// Buses returns every bus, sorted by name.
func (b *Bus) Buses() []router.Bus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Collect(func(yield func(router.Bus) bool) {
		for _, name := range slices.Sorted(maps.Keys(b.buses)) {
			if !yield(b.buses[name]) {
				return
			}
		}
	})
}

// BusNamed returns one bus.
func (b *Bus) BusNamed(name string) (router.Bus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bus, ok := b.buses[name]
	return bus, ok
}

// setBus makes bus known (or updates it). b.mu must be held.
func (b *Bus) setBus(bus router.Bus) {
	next := maps.Clone(b.buses)
	next[bus.Name] = bus
	b.buses = next
	b.publishState()
}

// dropBus forgets a bus; the default bus falls back to its builtin form.
// b.mu must be held.
func (b *Bus) dropBus(name string) {
	next := maps.Clone(b.buses)
	delete(next, name)
	if name == router.DefaultBus {
		next[name] = builtinDefaultBus()
	}
	b.buses = next
	b.publishState()
}

func builtinDefaultBus() router.Bus {
	return router.Bus{Name: router.DefaultBus, Origin: router.OriginBuiltin}
}

// routesOf lists the routes of a bus, sorted. b.mu must be held.
func (b *Bus) routesOf(bus string) []string {
	var names []string
	for name, lr := range b.routes {
		if lr.route.Bus == bus {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
