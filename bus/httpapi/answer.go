package httpapi

import (
	"net/http"
	"slices"
	"sync"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpbinding"
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
	pooled := answerBuffers.Get().(*[]byte)
	buf := slices.Grow((*pooled)[:0], 64+96*len(results))
	buf = append(buf, `{"results":[`...)
	for i, a := range results {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":`...)
		buf = httpbinding.AppendJSONString(buf, a.ID)
		buf = append(buf, `,"source":`...)
		buf = httpbinding.AppendJSONString(buf, a.Source)
		buf = append(buf, `,"routes":[`...)
		for j, name := range a.Routes {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = httpbinding.AppendJSONString(buf, name)
		}
		buf = append(buf, "]}"...)
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	// Once Write returns without an error the writer is done with buf (it
	// copies, or has sent it); HTTP/2's may still read it after an error.
	if _, err := w.Write(buf); err == nil && cap(buf) <= maxPooledAnswer {
		*pooled = buf
		answerBuffers.Put(pooled)
	}
}

// answerBuffers are writeAccepted's buffers, reused: a batch's answer is
// kilobytes, written for every request. One over maxPooledAnswer bytes
// (the answer of a rare large batch), or one whose Write failed, is left
// to the collector.
var answerBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledAnswer = 64 << 10
