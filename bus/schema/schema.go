// Package schema keeps JSON Schemas (draft 2020-12) for the data of event
// types and checks events against them.
//
// A Doc is what the store keeps for one event type: its versions, oldest
// first, each a schema document. Compile checks a document once, when it
// is saved; a Set holds the compiled versions of every type and is what
// ingress asks, without locks or allocation when an event's type has no
// schema. Validation errors are *spec.FieldError values whose Path is the
// failing place in the event ("data.customer.email") and whose Message
// names the rule broken ("format: ...", "required: ...").
//
// Schemas may not load anything from outside: a $ref to another file or
// URL is refused when the schema is saved.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/eventbus-go/eventbus/spec"
)

// MaxVersions bounds the versions kept per type; saving one more is
// refused until an old version is deleted.
const MaxVersions = 100

// Version is one saved schema of an event type.
type Version struct {
	Version   int             `json:"version"`
	Schema    json.RawMessage `json:"schema"`
	CreatedAt time.Time       `json:"created_at"`
}

// Doc is every saved version of one event type's schema, oldest first.
type Doc struct {
	Type     string    `json:"type"`
	Versions []Version `json:"versions"`
}

// Latest returns the newest version; ok is false when there is none.
func (d *Doc) Latest() (Version, bool) {
	if len(d.Versions) == 0 {
		return Version{}, false
	}
	return d.Versions[len(d.Versions)-1], true
}

// Find returns version n.
func (d *Doc) Find(n int) (Version, bool) {
	for _, v := range d.Versions {
		if v.Version == n {
			return v, true
		}
	}
	return Version{}, false
}

// Add appends schema as a new version unless it equals the latest (after
// compaction), and reports whether it added one. It fails when the type
// already has MaxVersions versions.
func (d *Doc) Add(schema json.RawMessage, now time.Time) (bool, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, schema); err != nil {
		return false, &spec.FieldError{Path: "schema", Message: "is not JSON: " + err.Error()}
	}
	latest, ok := d.Latest()
	if ok && bytes.Equal(latest.Schema, compact.Bytes()) {
		return false, nil
	}
	if len(d.Versions) >= MaxVersions {
		return false, fmt.Errorf("type %q already has %d schema versions, the most kept: delete old ones (DELETE /v1/schemas/%s?version=N) first", d.Type, MaxVersions, d.Type)
	}
	d.Versions = append(d.Versions, Version{Version: latest.Version + 1, Schema: compact.Bytes(), CreatedAt: now.UTC()})
	return true, nil
}

// ValidateType checks an event type used as a schema's name.
func ValidateType(typ string) error {
	switch {
	case typ == "":
		return &spec.FieldError{Path: "type", Message: "is empty: name the event type the schema is for"}
	case len(typ) > 255:
		return &spec.FieldError{Path: "type", Message: "is longer than 255 bytes"}
	case strings.ContainsAny(typ, "/?#"):
		return &spec.FieldError{Path: "type", Message: fmt.Sprintf("%q holds '/', '?' or '#', which a URL path cannot carry", typ)}
	}
	return nil
}

// Compiled is one version of a type's schema, ready to validate data.
type Compiled struct {
	Type    string
	Version int
	schema  *jsonschema.Schema
}

// Compile checks doc, a JSON Schema document (draft 2020-12 unless its
// $schema says otherwise), with format assertions on. Its error names
// where in the document the problem is, as "schema.properties.age.type".
func Compile(typ string, version int, doc json.RawMessage) (*Compiled, error) {
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, &spec.FieldError{Path: "schema", Message: "is not JSON: " + err.Error()}
	}
	url := "eventbus:///schemas/" + typ + "/v" + strconv.Itoa(version) + ".json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // nothing from files or the network
	if err := c.AddResource(url, parsed); err != nil {
		return nil, &spec.FieldError{Path: "schema", Message: err.Error()}
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, compileError(err)
	}
	return &Compiled{Type: typ, Version: version, schema: s}, nil
}

// compileError turns the compiler's error into field errors naming the
// place in the schema document at fault.
func compileError(err error) error {
	var invalid *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &invalid) && errors.As(invalid.Err, &ve) {
		var errs []error
		p := message.NewPrinter(language.English)
		for _, leaf := range leaves(ve) {
			errs = append(errs, &spec.FieldError{Path: path("schema", leaf.InstanceLocation), Message: describe(p, leaf)})
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	var load *jsonschema.LoadURLError
	if errors.As(err, &load) {
		return &spec.FieldError{Path: "schema", Message: fmt.Sprintf("refers to %s: a schema may refer only to places within itself ($ref \"#/$defs/...\")", load.URL)}
	}
	return &spec.FieldError{Path: "schema", Message: err.Error()}
}

// Validate checks data (decoded JSON: map[string]any, []any, string,
// json.Number, bool or nil) and returns one *spec.FieldError per broken
// rule, joined, with paths under "data".
func (c *Compiled) Validate(data any) error {
	err := c.schema.Validate(data)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &spec.FieldError{Path: "data", Message: err.Error()}
	}
	var errs []error
	printer := message.NewPrinter(language.English) // not safe to share: one per failure
	for _, leaf := range leaves(ve) {
		at := path("data", leaf.InstanceLocation)
		if req, ok := leaf.ErrorKind.(*kind.Required); ok && len(req.Missing) == 1 {
			at = path(at, []string{req.Missing[0]}) // name the missing field itself
		}
		errs = append(errs, &spec.FieldError{Path: at, Message: fmt.Sprintf("%s (schema %s version %d)", describe(printer, leaf), c.Type, c.Version)})
	}
	return errors.Join(errs...)
}

// leaves returns the errors without causes under ve: the rules broken,
// leaving out the "doesn't validate with ..." summaries around them.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// describe writes a broken rule as "keyword: what is wrong".
func describe(p *message.Printer, ve *jsonschema.ValidationError) string {
	kw := strings.Join(ve.ErrorKind.KeywordPath(), "/")
	text := ve.ErrorKind.LocalizedString(p)
	if kw == "" {
		return text
	}
	return kw + ": " + text
}

// path writes a JSON location under root as the API writes paths:
// "data.items[2].sku".
func path(root string, location []string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, tok := range location {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}
