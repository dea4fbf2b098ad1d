package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
	"unsafe"
)

// KeyPrefix starts every key the bus generates, so a leaked key is easy to
// recognise (secret scanners, logs) and easy to tell from a JWT.
const KeyPrefix = "ebk_"

// MinKeyLength is the shortest API key the bus accepts from its config:
// keys are kept as unsalted SHA-256 hashes, which is safe only for keys
// too long to guess.
const MinKeyLength = 32

// Hash is the SHA-256 of an API key: all the bus keeps of it.
type Hash [sha256.Size]byte

// HashKey hashes an API key. It does not allocate.
func HashKey(key string) Hash {
	// The key is only read: hash the string's bytes in place rather than
	// copying it to a []byte on every request.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// String is the hash in hex, as stores keep it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash in hex.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("key hash %q is not %d bytes in hex", s, len(h))
	}
	copy(h[:], b)
	return h, nil
}

// GenerateKey returns a new API key: KeyPrefix and 32 random bytes in
// URL-safe base64.
func GenerateKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Key is an API key as the bus shows it: never the key, never its hash.
type Key struct {
	Name    string    `json:"name"`
	Groups  []string  `json:"groups"`
	Created time.Time `json:"created,omitzero"`
	// Origin is "config" for keys of the config file, "api" for keys
	// created through the API.
	Origin string `json:"origin,omitempty"`
	// Hash identifies the key; it is kept in the store but never shown.
	Hash Hash `json:"-"`
}

// Keyring finds the identity of an API key. It is immutable: build a new
// one when keys change.
type Keyring struct {
	byHash map[Hash]*Identity
}

// NewKeyring indexes keys by hash. Later keys with the same hash as an
// earlier one are ignored.
func NewKeyring(keys []Key) *Keyring {
	k := &Keyring{byHash: make(map[Hash]*Identity, len(keys))}
	for _, key := range keys {
		if _, dup := k.byHash[key.Hash]; !dup {
			k.byHash[key.Hash] = &Identity{Kind: "key", Name: key.Name, Groups: key.Groups}
		}
	}
	return k
}

// Lookup returns the identity of key, if it is on the ring. It does not
// allocate.
//
// Keys are compared by their hashes, through a map: the time a lookup takes
// depends on the hash of the key presented, which tells an attacker nothing
// about any stored key, so this is as safe against timing attacks as a
// constant-time comparison of the keys themselves — and does not grow with
// the number of keys.
func (k *Keyring) Lookup(key string) (*Identity, bool) {
	id, ok := k.byHash[HashKey(key)]
	return id, ok
}
