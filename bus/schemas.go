package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/bus/schema"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// storedSchema is one type's schema document with its store version.
type storedSchema struct {
	doc     schema.Doc
	version int64
}

// PutSchema saves doc as the newest version of the JSON Schema of typ,
// unless it equals the newest already saved. It compiles doc first, and
// refuses it with errors naming where in it the problem is. expected is
// the store version the caller read (store.AnyVersion: any). It returns
// the type's versions as saved and whether a version was added.
func (b *Bus) PutSchema(ctx context.Context, typ string, doc json.RawMessage, expected int64) (schema.Doc, int64, bool, error) {
	if err := schema.ValidateType(typ); err != nil {
		return schema.Doc{}, 0, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, exists := b.schemaDocs[typ]
	if !exists {
		cur = storedSchema{doc: schema.Doc{Type: typ}}
	}
	if expected == store.AnyVersion {
		expected = cur.version // store.Absent when there is none
	}
	next := schema.Doc{Type: typ, Versions: slices.Clone(cur.doc.Versions)}
	added, err := next.Add(doc, time.Now())
	if err != nil {
		var fe *spec.FieldError
		if errors.As(err, &fe) {
			return schema.Doc{}, 0, false, err
		}
		return schema.Doc{}, 0, false, errcode.Errorf(errcode.FailedPrecondition, "%v", err)
	}
	if !added {
		return cur.doc, cur.version, false, nil
	}
	latest, _ := next.Latest()
	if _, err := schema.Compile(typ, latest.Version, latest.Schema); err != nil {
		return schema.Doc{}, 0, false, err
	}
	v, err := b.persist(ctx, store.KindSchema, typ, next, expected)
	if err != nil {
		return schema.Doc{}, 0, false, err
	}
	b.setSchema(storedSchema{doc: next, version: v})
	return next, v, true, nil
}

// DeleteSchema deletes version n of typ's schema, or every version when n
// is 0. expected works as in PutSchema.
func (b *Bus) DeleteSchema(ctx context.Context, typ string, n int, expected int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.schemaDocs[typ]
	if !ok {
		return errcode.Errorf(errcode.NotFound, "event type %q has no schema", typ)
	}
	if expected == store.AnyVersion {
		expected = cur.version
	}
	if n == 0 {
		return b.deleteSchema(ctx, typ, expected)
	}
	next := schema.Doc{Type: typ, Versions: slices.DeleteFunc(slices.Clone(cur.doc.Versions), func(v schema.Version) bool { return v.Version == n })}
	if len(next.Versions) == len(cur.doc.Versions) {
		return errcode.Errorf(errcode.NotFound, "the schema of %q has no version %d", typ, n)
	}
	if len(next.Versions) == 0 {
		return b.deleteSchema(ctx, typ, expected)
	}
	v, err := b.persist(ctx, store.KindSchema, typ, next, expected)
	if err != nil {
		return err
	}
	b.setSchema(storedSchema{doc: next, version: v})
	return nil
}

// deleteSchema deletes every version of typ's schema. b.mu must be held.
func (b *Bus) deleteSchema(ctx context.Context, typ string, expected int64) error {
	if err := b.store.Delete(ctx, store.KindSchema, typ, expected); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "schema", typ, expected)
	}
	b.dropSchema(typ)
	return nil
}

// Schemas returns the schemas of every type, sorted by type.
func (b *Bus) Schemas() []schema.Doc {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]schema.Doc, 0, len(b.schemaDocs))
	for _, typ := range slices.Sorted(maps.Keys(b.schemaDocs)) {
		out = append(out, b.schemaDocs[typ].doc)
	}
	return out
}

// SchemaOf returns the schema versions of typ and their store version.
func (b *Bus) SchemaOf(typ string) (schema.Doc, int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.schemaDocs[typ]
	return s.doc, s.version, ok
}

// setSchema makes s the schema of its type for ingress. b.mu must be held.
func (b *Bus) setSchema(s storedSchema) {
	next, err := b.schemas.Load().With(s.doc)
	if err != nil {
		b.log.Error("compiling a stored schema; events of its type are checked against the versions that compile", "type", s.doc.Type, "err", err)
	}
	b.schemas.Store(next)
	b.schemaDocs[s.doc.Type] = s
}

// dropSchema forgets typ's schema. b.mu must be held.
func (b *Bus) dropSchema(typ string) {
	b.schemas.Store(b.schemas.Load().Without(typ))
	delete(b.schemaDocs, typ)
}

// reconcileSchemas brings the schemas in line with the store's records of
// kind schema. b.mu must be held.
func (b *Bus) reconcileSchemas(recs []store.Record) []error {
	var errs []error
	seen := map[string]bool{}
	for _, rec := range recs {
		if rec.Kind != store.KindSchema {
			continue
		}
		seen[rec.Name] = true
		if cur, ok := b.schemaDocs[rec.Name]; ok && cur.version == rec.Version {
			continue
		}
		var doc schema.Doc
		if err := json.Unmarshal(rec.Spec, &doc); err != nil {
			errs = append(errs, fmt.Errorf("stored schema %s: %w", rec.Name, err))
			continue
		}
		b.setSchema(storedSchema{doc: doc, version: rec.Version})
	}
	for typ := range b.schemaDocs {
		if !seen[typ] {
			b.dropSchema(typ)
		}
	}
	return errs
}

// checkSchemas applies a bus's schema mode to the events that passed the
// CloudEvents checks: with enforce, an event whose data breaks its type's
// schema gets the error in its result; with warn it is only counted,
// logged and, like every event, shown to the bus's Inferrer.
func (b *Bus) checkSchemas(bus, mode string, events []*event.Event, results []Result) {
	set := b.schemas.Load()
	for i, e := range events {
		if results[i].Err != nil {
			continue
		}
		if mode == router.SchemasEnforce {
			if _, err := set.Check(e); err != nil {
				results[i] = Result{ID: e.ID(), Source: e.Source(), Err: invalidEvent(spec.Flatten(err))}
			}
			continue
		}
		data, err := set.Check(e)
		if !set.Has(e.Type()) {
			if data, err = schema.Decode(e); err != nil {
				continue // not JSON: nothing to learn from
			}
		}
		if err != nil {
			b.schemaWarnings.Do(func() {
				b.log.Warn("event breaks the schema of its type; accepted, as the bus's schemas are warn (repeats are not logged for a while)",
					"bus", bus, "event_type", e.Type(), "event_id", e.ID(), "err", err)
			})
		}
		b.inferrers.of(bus).Observe(e.Type(), data, err != nil)
	}
}

// InferredSchemas returns the schemas the bus inferred from the traffic of
// bus (with schemas: warn), and how many events of further types it did not
// track.
func (b *Bus) InferredSchemas(bus string) ([]schema.Inferred, int64, error) {
	if _, ok := b.BusNamed(bus); !ok {
		return nil, 0, errcode.Errorf(errcode.NotFound, "bus %q does not exist", bus)
	}
	types, untracked := b.inferrers.of(bus).Inferred()
	return types, untracked, nil
}

// inferrers holds one schema.Inferrer per bus, made on first use.
type inferrers struct {
	mu    sync.Mutex
	byBus map[string]*schema.Inferrer
}

func (in *inferrers) of(bus string) *schema.Inferrer {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.byBus == nil {
		in.byBus = map[string]*schema.Inferrer{}
	}
	i := in.byBus[bus]
	if i == nil {
		i = schema.NewInferrer()
		in.byBus[bus] = i
	}
	return i
}

// schemaWarningEvery bounds the log lines of schema warnings.
const schemaWarningEvery = 10 * time.Second

func newSchemaWarnings() *rate.Sometimes {
	return &rate.Sometimes{First: 1, Interval: schemaWarningEvery}
}
