package bus

// Backoff exposes the retry schedule to the package's external tests.
var Backoff = backoff
