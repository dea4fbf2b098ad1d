// Command server is a chat server on the bus. It serves one page; a
// browser posts a message to POST /rooms/{room}/messages, which the server
// emits as a chat.message event whose subject is the room. It keeps no
// message itself: the bus delivers every room's messages back, one room at
// a time and in order, to POST /hooks/chat, and the server fans each out to
// the browsers following that room on GET /rooms/{room}/events
// (Server-Sent Events).
//
// Several chat servers would each need a route of their own, since a
// route delivers an event once, to one of them.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

//go:embed index.html
var page []byte

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	listen := flag.String("listen", "127.0.0.1:8084", "address to serve the chat on (the chat-room route's target in bus.yaml)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := sdk.New(*busURL, sdk.Options{RetryFor: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	s := newServer(client)
	srv := &http.Server{Addr: *listen, Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	log.Printf("chat on http://%s/?room=lobby", *listen)
	select {
	case err := <-served:
		log.Fatal(err)
	case <-ctx.Done():
	}
	s.close() // ends the event streams, which Shutdown would wait for
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		log.Print(err)
	}
}

// message is a chat message as the page receives it.
type message struct {
	ID   string    `json:"id"` // the event's id: the page drops a redelivered one
	Room string    `json:"room"`
	User string    `json:"user"`
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// post is the data of a chat.message event, as the page sends it.
type post struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// subscriberBuffer is how many messages a browser may fall behind before
// the server drops its stream (the browser reconnects).
const subscriberBuffer = 64

type server struct {
	bus       *sdk.Client
	done      chan struct{} // closed by close: every event stream ends
	closeOnce sync.Once

	mu    sync.Mutex
	rooms map[string]map[chan message]bool // the streams following each room
}

func newServer(c *sdk.Client) *server {
	return &server{bus: c, done: make(chan struct{}), rooms: map[string]map[chan message]bool{}}
}

// close ends every event stream, now and later.
func (s *server) close() { s.closeOnce.Do(func() { close(s.done) }) }

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("POST /rooms/{room}/messages", s.send)
	mux.HandleFunc("GET /rooms/{room}/events", s.stream)
	mux.HandleFunc("POST /hooks/chat", s.deliver)
	return mux
}

var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// send emits the browser's message to the bus and answers 202 once the bus
// has stored it. The browser sees it when the bus delivers it back.
func (s *server) send(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("room")
	var p post
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&p); err != nil ||
		!roomName.MatchString(room) || p.User == "" || p.Text == "" ||
		utf8.RuneCountInString(p.User) > 40 || utf8.RuneCountInString(p.Text) > 1000 {
		http.Error(w, `send {"user": "...", "text": "..."} (user up to 40 characters, text up to 1000) to a room named by A-Z a-z 0-9 _ -`, http.StatusBadRequest)
		return
	}
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetSource("chat/web")
	e.SetType("chat.message")
	e.SetSubject(room)
	e.SetTime(time.Now())
	_ = e.SetData(event.ApplicationJSON, p)
	if _, err := s.bus.Emit(r.Context(), e); err != nil {
		http.Error(w, "the message was not sent: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": e.ID()})
}

// deliver takes a chat.message from the bus and passes it to the room's
// streams. The bus waits for the answer before it delivers the room's next
// message, so each stream gets them in the order they were sent.
func (s *server) deliver(w http.ResponseWriter, r *http.Request) {
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var p post
	if err := e.DataAs(&p); err != nil || e.Type() != "chat.message" || e.Subject() == "" {
		// A 4xx other than 429 dead-letters it: retrying would not help.
		http.Error(w, fmt.Sprintf("not a chat message (type %q, subject %q, data: %v)", e.Type(), e.Subject(), err), http.StatusBadRequest)
		return
	}
	s.publish(message{ID: e.ID(), Room: e.Subject(), User: p.User, Text: p.Text, Time: e.Time()})
	w.WriteHeader(http.StatusNoContent)
}

// publish hands m to every stream of its room. A stream whose buffer is
// full is dropped rather than waited for: one slow browser must not hold
// up the room.
func (s *server) publish(m message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.rooms[m.Room] {
		select {
		case ch <- m:
		default:
			delete(s.rooms[m.Room], ch)
			close(ch)
		}
	}
}

func (s *server) subscribe(room string) chan message {
	ch := make(chan message, subscriberBuffer)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[room] == nil {
		s.rooms[room] = map[chan message]bool{}
	}
	s.rooms[room][ch] = true
	return ch
}

func (s *server) unsubscribe(room string, ch chan message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms[room], ch) // publish may have dropped it already
	if len(s.rooms[room]) == 0 {
		delete(s.rooms, room)
	}
}

// stream sends the room's messages to one browser as Server-Sent Events
// until the browser leaves, the server closes, or the browser falls too
// far behind (it reconnects on its own).
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("room")
	if !roomName.MatchString(room) {
		http.Error(w, "a room is named by A-Z a-z 0-9 _ -", http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	ch := s.subscribe(room)
	defer s.unsubscribe(room, ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// A comment first, so the browser knows the stream is open.
	if _, err := fmt.Fprint(w, ": following "+room+"\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	// A comment now and then keeps idle proxies from closing the stream.
	heartbeat := time.NewTicker(30 * time.Second)
	defer heartbeat.Stop()
	for {
		var err error
		select {
		case m, ok := <-ch:
			if !ok {
				return
			}
			data, _ := json.Marshal(m)
			_, err = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", m.ID, data)
		case <-heartbeat.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}
