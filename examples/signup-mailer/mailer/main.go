// Command mailer is an eventbus plugin: for each user.signed_up event it
// "sends" the verification email — it appends one JSON line per mail to the
// file MAILER_OUTBOX (standard error when unset), standing in for SMTP.
//
// MAILER_FAIL_FIRST=1 makes the first attempt for each address fail, as a
// flaky mail server would, to show the bus retrying.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
)

type signup struct {
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

// mail is what the mailer writes to its outbox.
type mail struct {
	To      string `json:"to"`
	Code    string `json:"code"`
	EventID string `json:"event_id"`
}

type mailer struct {
	outbox    *os.File
	failFirst bool

	mu    sync.Mutex
	tried map[string]bool // addresses whose first attempt failed on purpose
}

func (m *mailer) Handle(_ context.Context, e event.Event) (plugin.Result, error) {
	var s signup
	if err := e.DataAs(&s); err != nil || s.Email == "" {
		return plugin.DeadLetter(fmt.Sprintf("the event has no email address: %v", err)), nil
	}
	m.mu.Lock()
	first := m.failFirst && !m.tried[s.Email]
	m.tried[s.Email] = true
	m.mu.Unlock()
	if first {
		return plugin.Result{}, errors.New("mail server unavailable (MAILER_FAIL_FIRST)")
	}
	code, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return plugin.Result{}, err
	}
	line, _ := json.Marshal(mail{To: s.Email, Code: fmt.Sprintf("%06d", code), EventID: e.ID()})
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.outbox.Write(append(line, '\n')); err != nil {
		return plugin.Result{}, err // retried: the mail was not sent
	}
	return plugin.Ack(), nil
}

func main() {
	m := &mailer{outbox: os.Stderr, failFirst: os.Getenv("MAILER_FAIL_FIRST") == "1", tried: map[string]bool{}}
	if path := os.Getenv("MAILER_OUTBOX"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mailer:", err)
			os.Exit(1)
		}
		m.outbox = f
	}
	plugin.Serve(m, plugin.Options{Name: "mailer", Version: "1.0.0", EventTypes: []string{"user.signed_up"}})
}
