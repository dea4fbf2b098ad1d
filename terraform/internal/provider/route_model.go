package provider

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// routeModel is a route in Terraform: the resource eventbus_route and each
// element of the data source eventbus_routes. Attribute names are the JSON
// names of the bus's API, so a field path in a bus error is an attribute
// path.
type routeModel struct {
	Name      types.String         `tfsdk:"name"`
	Bus       types.String         `tfsdk:"bus"`
	Match     jsontypes.Normalized `tfsdk:"match"`
	Filters   jsontypes.Normalized `tfsdk:"filters"`
	Backend   types.String         `tfsdk:"backend"`
	Target    *targetModel         `tfsdk:"target"`
	Transform types.String         `tfsdk:"transform"`
	Delivery  *deliveryModel       `tfsdk:"delivery"`
	Start     types.String         `tfsdk:"start"`
	Paused    types.Bool           `tfsdk:"paused"`
	Version   types.Int64          `tfsdk:"version"`
	Origin    types.String         `tfsdk:"origin"`
}

type targetModel struct {
	HTTP   *httpTargetModel   `tfsdk:"http"`
	Plugin *pluginTargetModel `tfsdk:"plugin"`
	Topic  *topicTargetModel  `tfsdk:"topic"`
}

type httpTargetModel struct {
	URL     types.String  `tfsdk:"url"`
	Timeout durationValue `tfsdk:"timeout"`
	Headers types.Map     `tfsdk:"headers"`
	// The bus never returns the secret and the credentials of auth: the
	// state keeps what the configuration wrote, or the signing secret the
	// bus generated when it created the route.
	SigningDisabled   types.Bool   `tfsdk:"signing_disabled"`
	SigningSecret     types.String `tfsdk:"signing_secret"`
	SigningSecretHint types.String `tfsdk:"signing_secret_hint"`
	Auth              *authModel   `tfsdk:"auth"`
}

type authModel struct {
	Basic  *basicAuthModel  `tfsdk:"basic"`
	APIKey *apiKeyAuthModel `tfsdk:"api_key"`
	OAuth2 *oauth2AuthModel `tfsdk:"oauth2"`
}

type basicAuthModel struct {
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
}

type apiKeyAuthModel struct {
	Header types.String `tfsdk:"header"`
	Value  types.String `tfsdk:"value"`
}

type oauth2AuthModel struct {
	TokenURL     types.String `tfsdk:"token_url"`
	ClientID     types.String `tfsdk:"client_id"`
	ClientSecret types.String `tfsdk:"client_secret"`
	Scopes       types.List   `tfsdk:"scopes"`
}

type pluginTargetModel struct {
	Name types.String `tfsdk:"name"`
}

type topicTargetModel struct {
	URL    types.String `tfsdk:"url"`
	Name   types.String `tfsdk:"name"`
	ZeroMQ *zeromqModel `tfsdk:"zeromq"`
}

type deliveryModel struct {
	MaxAttempts  types.Int64   `tfsdk:"max_attempts"`
	MaxAge       durationValue `tfsdk:"max_age"`
	Backoff      *backoffModel `tfsdk:"backoff"`
	DeadLetter   types.Bool    `tfsdk:"dead_letter"`
	ClientErrors types.String  `tfsdk:"client_errors"`
	MaxInflight  types.Int64   `tfsdk:"max_inflight"`
	OrderingKey  types.String  `tfsdk:"ordering_key"`
	Rate         types.String  `tfsdk:"rate"`
	Delay        durationValue `tfsdk:"delay"`
	MaxDepth     types.Int64   `tfsdk:"max_depth"`
	Overflow     types.String  `tfsdk:"overflow"`
	BlockTimeout durationValue `tfsdk:"block_timeout"`
	Batch        *batchModel   `tfsdk:"batch"`
}

type backoffModel struct {
	Initial durationValue `tfsdk:"initial"`
	Max     durationValue `tfsdk:"max"`
}

// toAPI is the route as the bus's PUT takes it. Attributes left null are
// left out, for the bus to fill in.
func (m routeModel) toAPI(ctx context.Context) (sdk.Route, diag.Diagnostics) {
	var diags diag.Diagnostics
	r := sdk.Route{
		Name:      m.Name.ValueString(),
		Bus:       m.Bus.ValueString(),
		Match:     rawJSON(m.Match),
		Filters:   rawJSON(m.Filters),
		Backend:   m.Backend.ValueString(),
		Transform: m.Transform.ValueString(),
		Start:     m.Start.ValueString(),
		Paused:    m.Paused.ValueBool(),
	}
	if t := m.Target; t != nil {
		if h := t.HTTP; h != nil {
			r.Target.HTTP = &sdk.HTTPTarget{URL: h.URL.ValueString(), Timeout: h.Timeout.ValueString()}
			if !h.Headers.IsNull() {
				diags.Append(h.Headers.ElementsAs(ctx, &r.Target.HTTP.Headers, false)...)
			}
			if h.SigningDisabled.ValueBool() || h.SigningSecret.ValueString() != "" {
				r.Target.HTTP.Signing = &sdk.Signing{Disabled: h.SigningDisabled.ValueBool(), Secret: h.SigningSecret.ValueString()}
			}
			if a := h.Auth; a != nil {
				auth, d := a.toAPI(ctx)
				diags.Append(d...)
				r.Target.HTTP.Auth = auth
			}
		}
		if p := t.Plugin; p != nil {
			r.Target.Plugin = &sdk.PluginTarget{Name: p.Name.ValueString()}
		}
		if tp := t.Topic; tp != nil {
			r.Target.Topic = &sdk.TopicTarget{URL: tp.URL.ValueString(), Name: tp.Name.ValueString(), ZeroMQ: tp.ZeroMQ.toAPI()}
		}
	}
	if d := m.Delivery; d != nil {
		r.Delivery = &sdk.Delivery{
			MaxAttempts:  int(d.MaxAttempts.ValueInt64()),
			MaxAge:       d.MaxAge.ValueString(),
			DeadLetter:   d.DeadLetter.ValueBoolPointer(),
			ClientErrors: d.ClientErrors.ValueString(),
			MaxInflight:  int(d.MaxInflight.ValueInt64()),
			OrderingKey:  d.OrderingKey.ValueString(),
			Rate:         d.Rate.ValueString(),
			Delay:        d.Delay.ValueString(),
			MaxDepth:     int(d.MaxDepth.ValueInt64()),
			Overflow:     d.Overflow.ValueString(),
			BlockTimeout: d.BlockTimeout.ValueString(),
			Batch:        d.Batch.toAPI(),
		}
		if b := d.Backoff; b != nil {
			r.Delivery.Backoff = &sdk.Backoff{Initial: b.Initial.ValueString(), Max: b.Max.ValueString()}
		}
	}
	return r, diags
}

// routeFromAPI is the route the bus answered, defaults filled in, as
// Terraform keeps it. Empty fields become null.
func routeFromAPI(ctx context.Context, r sdk.Route) (routeModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	m := routeModel{
		Name:      types.StringValue(r.Name),
		Bus:       stringOrNull(r.Bus),
		Match:     normalizedJSON(r.Match),
		Filters:   normalizedJSON(r.Filters),
		Backend:   stringOrNull(r.Backend),
		Target:    &targetModel{},
		Transform: stringOrNull(r.Transform),
		Start:     stringOrNull(r.Start),
		Paused:    types.BoolValue(r.Paused),
		Version:   types.Int64Value(r.Version),
		Origin:    stringOrNull(r.Origin),
	}
	if h := r.Target.HTTP; h != nil {
		headers := types.MapNull(types.StringType)
		if len(h.Headers) > 0 {
			var d diag.Diagnostics
			headers, d = types.MapValueFrom(ctx, types.StringType, h.Headers)
			diags.Append(d...)
		}
		m.Target.HTTP = &httpTargetModel{
			URL: types.StringValue(h.URL), Timeout: durationOf(h.Timeout), Headers: headers,
			SigningDisabled:   types.BoolValue(h.Signing != nil && h.Signing.Disabled),
			SigningSecret:     types.StringNull(),
			SigningSecretHint: types.StringNull(),
		}
		if s := h.Signing; s != nil {
			// Secret is only ever set in the answer that created it.
			m.Target.HTTP.SigningSecret = stringOrNull(s.Secret)
			m.Target.HTTP.SigningSecretHint = stringOrNull(s.SecretHint)
		}
		if a := h.Auth; a != nil {
			var d diag.Diagnostics
			m.Target.HTTP.Auth, d = authFromAPI(ctx, *a)
			diags.Append(d...)
		}
	}
	if p := r.Target.Plugin; p != nil {
		m.Target.Plugin = &pluginTargetModel{Name: types.StringValue(p.Name)}
	}
	if t := r.Target.Topic; t != nil {
		m.Target.Topic = &topicTargetModel{URL: types.StringValue(t.URL), Name: stringOrNull(t.Name), ZeroMQ: zeromqFromAPI(t.ZeroMQ)}
	}
	if d := r.Delivery; d != nil {
		m.Delivery = &deliveryModel{
			MaxAttempts: int64OrNull(d.MaxAttempts),
			MaxAge:      durationOf(d.MaxAge),
			// The bus leaves dead_letter out when it is the default, true.
			DeadLetter:   types.BoolValue(d.DeadLetter == nil || *d.DeadLetter),
			ClientErrors: stringOrNull(d.ClientErrors),
			MaxInflight:  int64OrNull(d.MaxInflight),
			OrderingKey:  stringOrNull(d.OrderingKey),
			Rate:         stringOrNull(d.Rate),
			Delay:        durationOf(d.Delay),
			MaxDepth:     int64OrNull(d.MaxDepth),
			Overflow:     stringOrNull(d.Overflow),
			BlockTimeout: durationOf(d.BlockTimeout),
			Batch:        batchFromAPI(d.Batch),
		}
		if b := d.Backoff; b != nil {
			m.Delivery.Backoff = &backoffModel{Initial: durationOf(b.Initial), Max: durationOf(b.Max)}
		}
	}
	return m, diags
}

func (a authModel) toAPI(ctx context.Context) (*sdk.TargetAuth, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := &sdk.TargetAuth{}
	if b := a.Basic; b != nil {
		out.Basic = &sdk.BasicAuth{Username: b.Username.ValueString(), Password: b.Password.ValueString()}
	}
	if k := a.APIKey; k != nil {
		out.APIKey = &sdk.APIKeyAuth{Header: k.Header.ValueString(), Value: k.Value.ValueString()}
	}
	if o := a.OAuth2; o != nil {
		out.OAuth2 = &sdk.OAuth2Auth{TokenURL: o.TokenURL.ValueString(), ClientID: o.ClientID.ValueString(), ClientSecret: o.ClientSecret.ValueString()}
		if !o.Scopes.IsNull() && !o.Scopes.IsUnknown() {
			diags.Append(o.Scopes.ElementsAs(ctx, &out.OAuth2.Scopes, false)...)
		}
	}
	return out, diags
}

// authFromAPI is an auth as the bus shows it: its credentials left out.
func authFromAPI(ctx context.Context, a sdk.TargetAuth) (*authModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	m := &authModel{}
	if b := a.Basic; b != nil {
		m.Basic = &basicAuthModel{Username: types.StringValue(b.Username), Password: types.StringNull()}
	}
	if k := a.APIKey; k != nil {
		m.APIKey = &apiKeyAuthModel{Header: types.StringValue(k.Header), Value: types.StringNull()}
	}
	if o := a.OAuth2; o != nil {
		scopes := types.ListNull(types.StringType)
		if len(o.Scopes) > 0 {
			var d diag.Diagnostics
			scopes, d = types.ListValueFrom(ctx, types.StringType, o.Scopes)
			diags.Append(d...)
		}
		m.OAuth2 = &oauth2AuthModel{TokenURL: types.StringValue(o.TokenURL), ClientID: types.StringValue(o.ClientID), ClientSecret: types.StringNull(), Scopes: scopes}
	}
	return m, diags
}

// keepWriteOnly fills in m, the route the bus answered, the write-only
// values the bus never returns, from prior (the plan or the state): what
// the configuration wrote, or the signing secret generated at creation.
func (m *routeModel) keepWriteOnly(prior routeModel) {
	if m.Target == nil || m.Target.HTTP == nil || prior.Target == nil || prior.Target.HTTP == nil {
		return
	}
	h, p := m.Target.HTTP, prior.Target.HTTP
	if h.SigningSecret.IsNull() && !p.SigningSecret.IsUnknown() {
		h.SigningSecret = p.SigningSecret
	}
	if h.Auth == nil || p.Auth == nil {
		return
	}
	if h.Auth.Basic != nil && p.Auth.Basic != nil {
		h.Auth.Basic.Password = p.Auth.Basic.Password
	}
	if h.Auth.APIKey != nil && p.Auth.APIKey != nil {
		h.Auth.APIKey.Value = p.Auth.APIKey.Value
	}
	if h.Auth.OAuth2 != nil && p.Auth.OAuth2 != nil {
		h.Auth.OAuth2.ClientSecret = p.Auth.OAuth2.ClientSecret
	}
}

// leaveOutDefaultBlocks leaves out of m, the route the bus answered, each
// optional block (delivery, delivery's backoff) that prior leaves out while
// the bus has its defaults for it. A block left out of the configuration
// means "the bus's defaults", and Terraform allows no block in the state
// that the plan leaves out. Once the bus's values differ from its defaults,
// as after a change made outside Terraform, the block is kept, and the
// next plan shows the difference.
func (m *routeModel) leaveOutDefaultBlocks(prior routeModel, r sdk.Route) {
	if prior.Delivery == nil && isDefaultDelivery(r.Delivery) {
		m.Delivery = nil
		return
	}
	if m.Delivery != nil && (prior.Delivery == nil || prior.Delivery.Backoff == nil) && isDefaultBackoff(r.Delivery.Backoff) {
		m.Delivery.Backoff = nil
	}
}

// isDefaultDelivery reports whether d is the policy the bus gives a route
// that sets none.
func isDefaultDelivery(d *sdk.Delivery) bool {
	if d == nil {
		return true
	}
	rest := *d
	rest.Backoff, rest.DeadLetter = nil, nil
	return rest == sdk.Delivery{MaxAttempts: defaultMaxAttempts, ClientErrors: defaultClientErrors, MaxInflight: defaultMaxInflight} &&
		isDefaultBackoff(d.Backoff) &&
		(d.DeadLetter == nil || *d.DeadLetter)
}

// isDefaultBackoff reports whether b is the backoff the bus gives a route
// that sets none.
func isDefaultBackoff(b *sdk.Backoff) bool {
	return b == nil || *b == sdk.Backoff{Initial: defaultBackoffInitial.String(), Max: defaultBackoffMax.String()}
}

func rawJSON(v jsontypes.Normalized) json.RawMessage {
	if v.IsNull() {
		return nil
	}
	return json.RawMessage(v.ValueString())
}

func normalizedJSON(raw json.RawMessage) jsontypes.Normalized {
	if len(raw) == 0 || string(raw) == "null" {
		return jsontypes.NewNormalizedNull()
	}
	return jsontypes.NewNormalizedValue(string(raw))
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func int64OrNull(n int) types.Int64 {
	if n == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(int64(n))
}
