// Package rabbitmqtest helps the tests that restart the local RabbitMQ
// leave it, and find it, whole.
package rabbitmqtest

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

// DeclareTimeout is how long AwaitDeclares waits.
const DeclareTimeout = time.Minute

// Ctl runs each rabbitmqctl command in turn.
func Ctl(ctx context.Context, commands ...string) error {
	for _, c := range commands {
		if out, err := exec.CommandContext(ctx, "rabbitmqctl", c).CombinedOutput(); err != nil {
			return fmt.Errorf("rabbitmqctl %s: %w: %s", c, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Heal restarts the local broker's application when its supervisor of
// dead-letter workers is down. A burst of those workers exiting, as when a
// test deletes its channels right after a restart, can stop it for good
// (rabbitmq-server issue 16652); from then on no quorum queue with
// at-least-once dead-lettering, as every channel of the bus has, can be
// declared: the broker answers INTERNAL_ERROR until its application
// restarts.
func Heal(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "eval", "whereis(rabbit_fifo_dlx_sup).").CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl eval: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if strings.TrimSpace(string(out)) != "undefined" {
		return nil
	}
	return Ctl(ctx, "stop_app", "start_app", "await_startup")
}

// AwaitLeaders waits, for at most DeclareTimeout, until every quorum queue
// of the local broker has a leader again after a restart. Deleting a
// queue before its leader is back can stop the broker's supervisor of
// dead-letter workers (see Heal).
func AwaitLeaders(ctx context.Context) error {
	const leaderless = `length([Q || Q <- rabbit_amqqueue:list(), amqqueue:get_type(Q) =:= rabbit_quorum_queue, element(1, catch ra:members(amqqueue:get_pid(Q), 100)) =/= ok]).`
	var last string
	if testkit.Poll(DeclareTimeout, 100*time.Millisecond, func() bool {
		out, err := exec.CommandContext(ctx, "rabbitmqctl", "eval", leaderless).CombinedOutput()
		last = strings.TrimSpace(string(out))
		return err == nil && last == "0"
	}) {
		return nil
	}
	return fmt.Errorf("after %v some quorum queues still have no leader (rabbitmqctl eval says %q)", DeclareTimeout, last)
}

// AwaitDeclares waits until the broker declares (and deletes) a new quorum
// queue with at-least-once dead-lettering, as the bus's channels are, for
// at most DeclareTimeout. "rabbitmqctl await_startup" returns once the
// broker accepts connections, before every part of it may be back. broker
// is an amqp:// URL or a rabbit:// backend URL, whose options are left
// out.
func AwaitDeclares(broker string) error {
	u, err := url.Parse(broker)
	if err != nil {
		return err
	}
	amqpURL := (&url.URL{Scheme: "amqp", User: u.User, Host: u.Host, Path: u.Path}).String()
	var last error
	if testkit.Poll(DeclareTimeout, 100*time.Millisecond, func() bool { last = declareOnce(amqpURL); return last == nil }) {
		return nil
	}
	return fmt.Errorf("after %v the broker still does not declare queues: %w", DeclareTimeout, last)
}

func declareOnce(amqpURL string) error {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("eventbus-probe-%d", time.Now().UnixNano())
	args := amqp.Table{
		"x-queue-type":              "quorum",
		"x-overflow":                "reject-publish",
		"x-dead-letter-strategy":    "at-least-once",
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": name + ".dlq",
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		return err
	}
	_, err = ch.QueueDelete(name, false, false, false)
	return err
}
