package bus

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
)

// storedKey is an API key as the store keeps it: its hash, never the key.
type storedKey struct {
	Name    string    `json:"name"`
	Groups  []string  `json:"groups"`
	Created time.Time `json:"created"`
	SHA256  string    `json:"sha256"`
}

// NewKey is a key just created: the only time the key itself is shown.
type NewKey struct {
	auth.Key
	Secret string `json:"key"`
}

// CreateKey generates an API key with groups and keeps its hash in the
// store. The key is in the result and nowhere else.
func (b *Bus) CreateKey(ctx context.Context, name string, groups []string) (NewKey, error) {
	if err := auth.ValidateKeyName(name); err != nil {
		return NewKey{}, errcode.Errorf(errcode.InvalidArgument, "%v", err)
	}
	if slices.ContainsFunc(groups, func(g string) bool { return strings.TrimSpace(g) == "" }) {
		return NewKey{}, errcode.Errorf(errcode.InvalidArgument, "groups of key %q: a group name is empty", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.configKey(name) {
		return NewKey{}, errConfigOwned("key", name)
	}
	secret := auth.GenerateKey()
	k := auth.Key{Name: name, Groups: groups, Created: time.Now().UTC().Truncate(time.Second), Origin: "api", Hash: auth.HashKey(secret)}
	if k.Groups == nil {
		k.Groups = []string{}
	}
	spec := storedKey{Name: k.Name, Groups: k.Groups, Created: k.Created, SHA256: k.Hash.String()}
	if _, err := b.persist(ctx, store.KindKey, name, spec, store.Absent); err != nil {
		return NewKey{}, err
	}
	b.setStoredKeys(append(slices.Clone(b.storedKeys), k))
	b.log.Info("API key created", "key_name", name, "groups", groups)
	return NewKey{Key: k, Secret: secret}, nil
}

// Keys lists the API keys of the config and of the store, by name.
func (b *Bus) Keys() []auth.Key {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []auth.Key
	if b.access != nil {
		out = append(out, b.access.configKeys...)
	}
	out = append(out, b.storedKeys...)
	slices.SortFunc(out, func(x, y auth.Key) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// RevokeKey deletes a stored key: it is refused from the next request on,
// here at once and on other replicas when the store announces the change.
func (b *Bus) RevokeKey(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.configKey(name) {
		return errConfigOwned("key", name)
	}
	if err := b.store.Delete(ctx, store.KindKey, name, store.AnyVersion); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errcode.Errorf(errcode.NotFound, "key %q does not exist", name)
		}
		return storeError(err, "key", name, store.AnyVersion)
	}
	b.setStoredKeys(slices.DeleteFunc(slices.Clone(b.storedKeys), func(k auth.Key) bool { return k.Name == name }))
	b.log.Info("API key revoked", "key_name", name)
	return nil
}

// configKey reports whether the config declares a key of that name.
func (b *Bus) configKey(name string) bool {
	return b.access != nil && slices.ContainsFunc(b.access.configKeys, func(k auth.Key) bool { return k.Name == name })
}

// keyFromRecord reads a stored key.
func keyFromRecord(rec store.Record) (auth.Key, error) {
	var s storedKey
	if err := json.Unmarshal(rec.Spec, &s); err != nil {
		return auth.Key{}, err
	}
	h, err := auth.ParseHash(s.SHA256)
	if err != nil {
		return auth.Key{}, err
	}
	return auth.Key{Name: rec.Name, Groups: s.Groups, Created: s.Created, Origin: "api", Hash: h}, nil
}
