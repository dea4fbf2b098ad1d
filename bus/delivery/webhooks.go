package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// The Standard Webhooks headers on every signed delivery.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// signer signs deliveries with a route's current secret and, until it
// expires, the one before: the receiver accepts either signature, so a
// rotation has no gap.
type signer struct {
	current  *hmacKey
	previous *hmacKey  // nil: none
	until    time.Time // previous signs before this time
	now      func() time.Time
}

// newSigner returns the signer of a route's signing settings, nil when
// signing is off or there is no secret (a route stored before the bus
// signed). The secrets were validated when the route was saved.
func newSigner(s *router.Signing, now func() time.Time) (*signer, error) {
	if s == nil || s.Disabled || s.Secret == "" {
		return nil, nil
	}
	cur, err := router.SigningKey(s.Secret)
	if err != nil {
		return nil, &spec.FieldError{Path: "target.http.signing.secret", Message: err.Error()}
	}
	sg := &signer{current: newHMACKey(cur), now: now}
	if s.PreviousSecret != "" {
		prev, err := router.SigningKey(s.PreviousSecret)
		if err != nil {
			return nil, &spec.FieldError{Path: "target.http.signing.previous_secret", Message: err.Error()}
		}
		sg.previous = newHMACKey(prev)
		sg.until = s.PreviousExpires
	}
	return sg, nil
}

// sign sets the three webhook-* headers of one delivery attempt: the
// message's id, this attempt's time in Unix seconds, and "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" for each valid secret, space-separated.
func (s *signer) sign(h httpbinding.Header, msgID string, body []byte) {
	now := s.now()
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := "v1," + signature(s.current, msgID, ts, body)
	if s.previous != nil && now.Before(s.until) {
		sig += " v1," + signature(s.previous, msgID, ts, body)
	}
	h.Set(canonicalWebhookID, msgID)
	h.Set(canonicalWebhookTimestamp, ts)
	h.Set(canonicalWebhookSignature, sig)
}

// The webhook-* header keys as net/http spells them, so signing does not
// canonicalise them on every delivery.
var (
	canonicalWebhookID        = http.CanonicalHeaderKey(HeaderWebhookID)
	canonicalWebhookTimestamp = http.CanonicalHeaderKey(HeaderWebhookTimestamp)
	canonicalWebhookSignature = http.CanonicalHeaderKey(HeaderWebhookSignature)
)

// hmacKey is a signing secret with its HMAC states for reuse: keying an
// HMAC hashes two blocks, which a Reset of a used one skips.
type hmacKey struct {
	key  []byte
	macs sync.Pool // of hash.Hash keyed with key
}

func newHMACKey(key []byte) *hmacKey {
	k := &hmacKey{key: key}
	k.macs.New = func() any { return hmac.New(sha256.New, k.key) }
	return k
}

func signature(k *hmacKey, msgID, ts string, body []byte) string {
	mac := k.macs.Get().(hash.Hash)
	defer func() {
		mac.Reset()
		k.macs.Put(mac)
	}()
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	return base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
}

// webhookID names one event of one bus for its receivers, the same on every
// attempt (receivers deduplicate on it): a CloudEvent is identified by its
// source and id together, which a bare id is not, and may hold characters
// that have no place in a header.
func webhookID(bus, source, id string) string {
	h := sha256.New()
	for _, part := range []string{bus, source, id} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "msg_" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}
