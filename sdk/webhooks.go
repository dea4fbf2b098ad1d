package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultWebhookTolerance is how far a delivery's webhook-timestamp may be
// from the receiver's clock, either way, when VerifyWebhook is given zero.
const DefaultWebhookTolerance = 5 * time.Minute

// maxSignatures bounds how many signatures of one header are checked.
const maxSignatures = 8

// The ways a delivery fails verification; VerifyWebhook wraps one of them.
var (
	// ErrWebhookHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is missing or malformed.
	ErrWebhookHeaders = errors.New("webhook headers missing or malformed")
	// ErrWebhookTimestamp: the delivery was signed too long ago (a replay)
	// or too far in the future.
	ErrWebhookTimestamp = errors.New("webhook timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches any of the secrets: the
	// body was changed, or it was not signed with a secret the receiver has.
	ErrWebhookSignature = errors.New("no webhook signature matches")
)

// VerifyWebhook checks that a request came from the bus, unchanged: its
// webhook-signature carries a "v1," signature, HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", made with one of secrets
// ("whsec_…", as the bus showed them), and its webhook-timestamp is within
// tolerance of now (DefaultWebhookTolerance when zero). During a rotation
// pass both the old and the new secret: the bus signs with both, and either
// verifies. body is the request body exactly as received.
//
// The error wraps ErrWebhookHeaders, ErrWebhookTimestamp or
// ErrWebhookSignature, or says which secret is malformed (never what it is).
// Answer a request that fails with 401, and handle webhook-id at most once:
// a retry carries the same id.
func VerifyWebhook(secrets []string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secrets) == 0 {
		return errors.New("sdk: VerifyWebhook needs at least one secret")
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := webhookKey(s)
		if err != nil {
			return fmt.Errorf("sdk: secrets[%d] %v", i, err)
		}
		keys[i] = k
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("sdk: %w: need webhook-id, webhook-timestamp and webhook-signature", ErrWebhookHeaders)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("sdk: %w: webhook-timestamp %q is not Unix seconds", ErrWebhookHeaders, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if skew := now.Sub(time.Unix(secs, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("sdk: %w: signed at %s, %s from now (tolerance %s)", ErrWebhookTimestamp, time.Unix(secs, 0).UTC().Format(time.RFC3339), skew.Round(time.Second), tolerance)
	}
	want := make([][]byte, len(keys))
	for i, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want[i] = mac.Sum(nil)
	}
	for n, vs := range strings.Fields(sigs) {
		if n == maxSignatures {
			break
		}
		b64, ok := strings.CutPrefix(vs, "v1,")
		if !ok {
			continue // another scheme (v1a, …) may come along; ignore it
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	return fmt.Errorf("sdk: %w", ErrWebhookSignature)
}

// webhookKey decodes a "whsec_" secret into its HMAC key.
func webhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`is not a signing secret: it must start with "whsec_"`)
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) == 0 {
		return nil, errors.New(`is not a signing secret: "whsec_" must be followed by standard base64`)
	}
	return k, nil
}
