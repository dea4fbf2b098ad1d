// Package auth decides who a caller of the bus is and what it may do.
//
// Authentication turns a bearer credential into an Identity — a name and
// the groups it belongs to. Two kinds of credential are accepted: API keys,
// which the bus keeps only as SHA-256 hashes (a Keyring), and JWTs from an
// OIDC issuer, verified against the issuer's published keys (a
// TokenVerifier; package auth/oidc).
//
// Authorization is a pure function of an Identity, the process-wide Policy
// (auth.admins, the groups that may do anything) and a bus's ACL. An ACL
// names the groups allowed each Action on the bus — emit, manage, read and
// redrive — in the manner of ActiveMQ's per-destination rights; an emit
// grant may be narrowed to event types and sources by pattern. A bus
// without an ACL is for admins only. The group "*" stands for any
// authenticated caller. A refusal is a *Denied error that names the caller,
// the action and the bus; it never contains a credential.
package auth
