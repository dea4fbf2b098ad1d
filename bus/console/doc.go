// Package console is the bus's web console, served at /console/: plain
// HTML, JavaScript and CSS embedded in the binary, with no build step and
// nothing fetched from elsewhere.
//
// The console holds no data and no rights of its own. Its pages call the
// bus's HTTP API from the browser (routes and their stats, dead letters
// and redrive, test-pattern, the event history, the live tail of a bus),
// so every call passes the same authentication and ACL as any other
// client's. With authentication on, the page asks for an API key or
// token, keeps it in the tab's sessionStorage only, and sends it as
// Authorization: Bearer.
//
// Handler serves the assets with a Content-Security-Policy of
// default-src 'self' (no inline script or style, no other origin), and
// forbids framing and MIME sniffing.
package console
