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
	var tsDigits [20]byte
	ts := strconv.AppendInt(tsDigits[:0], now.Unix(), 10)
	var sigBytes [len("v1,") + signatureLen + len(" v1,") + signatureLen]byte
	sig := append(sigBytes[:0], "v1,"...)
	sig = s.current.appendSignature(sig, msgID, ts, body)
	if s.previous != nil && now.Before(s.until) {
		sig = append(sig, " v1,"...)
		sig = s.previous.appendSignature(sig, msgID, ts, body)
	}
	h.Set(canonicalWebhookID, msgID)
	h.Set(canonicalWebhookTimestamp, string(ts))
	h.Set(canonicalWebhookSignature, string(sig))
}

// signatureLen is the length of an HMAC-SHA256 in padded base64.
const signatureLen = (sha256.Size + 2) / 3 * 4

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
	macs sync.Pool // of *keyedMAC
}

// keyedMAC is an HMAC keyed with its hmacKey's secret, with a buffer for
// the head of what it signs: a hash.Hash's Write takes a byte slice, which
// a string would have to be copied into anyway.
type keyedMAC struct {
	mac  hash.Hash
	head []byte
	sum  [sha256.Size]byte // Sum's destination: a local would escape through the interface
}

func newHMACKey(key []byte) *hmacKey {
	k := &hmacKey{key: key}
	k.macs.New = func() any { return &keyedMAC{mac: hmac.New(sha256.New, k.key)} }
	return k
}

// appendSignature appends to dst the base64 HMAC-SHA256 under k of
// "msgID.ts.body".
func (k *hmacKey) appendSignature(dst []byte, msgID string, ts, body []byte) []byte {
	m := k.macs.Get().(*keyedMAC)
	defer k.macs.Put(m)
	m.mac.Reset()
	m.head = append(append(m.head[:0], msgID...), '.')
	m.head = append(append(m.head, ts...), '.')
	m.mac.Write(m.head)
	m.mac.Write(body)
	return base64.StdEncoding.AppendEncode(dst, m.mac.Sum(m.sum[:0]))
}

// webhookID names one event of one bus for its receivers, the same on every
// attempt (receivers deduplicate on it): a CloudEvent is identified by its
// source and id together, which a bare id is not, and may hold characters
// that have no place in a header.
func webhookID(bus, source, id string) string {
	var keyBytes [256]byte // most keys fit; a longer one grows onto the heap
	key := keyBytes[:0]
	for _, part := range [...]string{bus, source, id} {
		key = append(append(key, part...), 0)
	}
	sum := sha256.Sum256(key)
	var name [len("msg_") + 24]byte // 18 bytes of the hash in base64
	copy(name[:], "msg_")
	base64.RawURLEncoding.Encode(name[len("msg_"):], sum[:18])
	return string(name[:])
}
