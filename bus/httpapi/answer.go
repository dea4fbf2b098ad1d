package httpapi

import (
	"net/http"
	"unicode/utf8"

	"github.com/eventbus-go/eventbus/bus"
)

// plain reports whether every event was stored with no overflow to
// report: the common case, which writeAccepted answers.
func plain(results []bus.Result) bool {
	for _, r := range results {
		if r.Err != nil || len(r.Overflow) > 0 {
			return false
		}
	}
	return true
}

// writeAccepted writes the 202 of a request whose events are all plain. It
// writes the JSON directly: this is on the path of every event and
// encoding/json's reflection is a measurable part of it.
func writeAccepted(w http.ResponseWriter, results []bus.Result) {
	buf := make([]byte, 0, 64+96*len(results))
	buf = append(buf, `{"results":[`...)
	for i, a := range results {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":`...)
		buf = appendJSONString(buf, a.ID)
		buf = append(buf, `,"source":`...)
		buf = appendJSONString(buf, a.Source)
		buf = append(buf, `,"routes":[`...)
		for j, name := range a.Routes {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, name)
		}
		buf = append(buf, "]}"...)
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(buf)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced, as encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, `\ufffd`...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
