package bus

// Backoff exposes the retry schedule to the package's external tests.
var Backoff = backoff

// ServerTLS exposes the listener's TLS config to the package's external
// tests.
var ServerTLS = newServerTLS
