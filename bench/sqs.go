package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/eventbus-go/eventbus/adapters/sqs"
)

// The sqs scenario: the kafka scenario's trip through an SQS standard queue.
// The contender stores the event in the queue before it answers 202; a
// consumer receives it, POSTs it to the HTTP target and deletes it after
// the 2xx.
//
//	eventbus   the bus, one route on sqs:// with an HTTP target
//	glue       what a user would write instead, on aws-sdk-go-v2: a
//	           net/http handler that calls SendMessage (the event's
//	           attributes as message attributes), and pollers that receive
//	           up to 10 messages, POST them to the target concurrently and
//	           delete each after its 2xx
//	aws-sdk    send-receive-delete alone, in this process, without HTTP on
//	           either side: the ceiling
//
// The endpoint is EVENTBUS_TEST_SQS (sqs://HOST:PORT?region=…), as in the
// tests; unset, every window starts fauxqs, the SQS emulator, afresh on a
// free port in a child process and stops it after (as installed by
// scripts/sqs-emulator.sh, found from the working directory up; the bench
// installs it the same way if it is missing). Every contender makes queues of its own, with
// unique names, and deletes them.
func init() {
	servers["eventbus-sqs"] = serveSQSBus
	servers["glue-aws-sdk"] = serveGlueWith(openSQSGlue)
	register(Scenario{
		Name:    "sqs",
		About:   "POST a CloudEvent → stored in an SQS queue → POSTed to an HTTP target; one operation ends when the target has it",
		Workers: 32,
		Contenders: []Contender{
			{Name: "eventbus", Start: withSQS(startPipelineChild("eventbus-sqs"))},
			{Name: "glue", Start: withSQS(startPipelineChild("glue-aws-sdk"))},
			{Name: "aws-sdk", Start: withSQS(startRawPipeline(openSQSGlue))},
		},
	})
}

// envSQS is the sqs:// URL of the endpoint for an sqs contender; the parent
// sets it before starting one.
const envSQS = "EVENTBUS_BENCH_SQS"

// sqsPollers is how many receive loops the glue runs, each with up to ten
// messages in delivery: about the bus route's max_inflight in all.
const sqsPollers = consumers / 10

// withSQS runs start with an SQS endpoint: EVENTBUS_TEST_SQS, or else an
// emulator started for the window and stopped after the contender.
func withSQS(start func(context.Context, StartOptions) (*Instance, error)) func(context.Context, StartOptions) (*Instance, error) {
	return func(ctx context.Context, opts StartOptions) (*Instance, error) {
		endpoint, stopEmulator, err := startSQSEndpoint(ctx)
		if err != nil {
			return nil, err
		}
		os.Setenv(envSQS, endpoint)
		inst, err := start(ctx, opts)
		if err != nil {
			return nil, errors.Join(err, stopEmulator())
		}
		stop := inst.Stop
		inst.Stop = func() error { return errors.Join(stop(), stopEmulator()) }
		return inst, nil
	}
}

// startSQSEndpoint returns the sqs:// URL to use and how to stop it.
func startSQSEndpoint(ctx context.Context) (string, func() error, error) {
	if raw := os.Getenv("EVENTBUS_TEST_SQS"); raw != "" {
		return raw, func() error { return nil }, nil
	}
	return startEmulator(ctx)
}

// startEmulator runs fauxqs, pinned and installed where
// scripts/sqs-emulator.sh keeps it, in a child process on a free loopback
// port, and returns once the port answers. It runs it directly rather than
// through the script so that it dies with the bench, even a killed one
// (parent-death signal), and is reaped the moment it exits: the script's
// stop waits seconds for an orphan's exit to be noticed, every window.
func startEmulator(ctx context.Context) (string, func() error, error) {
	dir, err := findUp(filepath.Join("scripts", "sqs-emulator"))
	if err != nil {
		return "", nil, fmt.Errorf("the sqs scenario needs EVENTBUS_TEST_SQS (sqs://127.0.0.1:4566?region=us-east-1) or the emulator's directory to start one: %w", err)
	}
	node := filepath.Join(dir, "node_modules", ".bin", "node")
	cli := filepath.Join(dir, "node_modules", "fauxqs", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		// Install it as scripts/sqs-emulator.sh does: Node 22 and fauxqs,
		// pinned by the lockfile there.
		install := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund")
		if out, err := install.CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("installing the SQS emulator (npm ci in %s): %w: %s", dir, err, strings.TrimSpace(string(out)))
		}
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(node, cli)
	cmd.Env = append(os.Environ(), "FAUXQS_PORT="+port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Its stdout, a line per request (megabytes a window), is discarded;
	// its stderr has only warnings and errors, kept to show if it fails.
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting the SQS emulator: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return nil // killed by the signal, as asked: its exit status says nothing
	}
	addr := "127.0.0.1:" + port
	if err := awaitListening(ctx, addr, exited); err != nil {
		_ = stop()
		return "", nil, fmt.Errorf("the SQS emulator: %w (exit: %v)%s", err, waitErr, stderr.tail())
	}
	return "sqs://" + addr + "?region=us-east-1", stop, nil
}

// awaitListening polls addr until it accepts a connection, the process
// behind it exits, or 30 s pass.
func awaitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-exited:
			return errors.New("exited before it listened")
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// findUp looks for rel in the working directory and each one above it.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in the working directory or above it", rel)
		}
		dir = parent
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// serveSQSBus runs a bus with one route on an SQS standard queue, and
// deletes the route's queues when it stops.
func serveSQSBus(ctx context.Context, ln net.Listener) error {
	return serveRouteBus(ctx, ln, os.Getenv(envSQS), sqs.Open)
}

// openSQSGlue is the glue on aws-sdk-go-v2 as its documentation shows: a
// client with static credentials and the endpoint as BaseEndpoint, a queue
// made with CreateQueue, one SendMessage per event with its attributes as
// message attributes (five of SQS's ten), and sqsPollers loops that each
// receive up to ten messages (long polling), deliver them concurrently
// and delete each once delivered.
func openSQSGlue(queue string) (*glue, error) {
	u, err := url.Parse(os.Getenv(envSQS))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(u.Query().Get("region")),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("bench", "bench", "")))
	if err != nil {
		return nil, err
	}
	client := awssqs.NewFromConfig(cfg, func(o *awssqs.Options) { o.BaseEndpoint = aws.String("http://" + u.Host) })
	created, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(queue)})
	if err != nil {
		return nil, fmt.Errorf("creating queue %s: %w", queue, err)
	}
	queueURL := created.QueueUrl
	g := &glue{}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		attrs := make(map[string]types.MessageAttributeValue, len(headers))
		for k, v := range headers {
			attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		_, err := client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: queueURL, MessageBody: aws.String(string(body)), MessageAttributes: attrs})
		return err
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		var pollers sync.WaitGroup
		for range sqsPollers {
			pollers.Go(func() {
				for ctx.Err() == nil {
					out, err := client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
						QueueUrl: queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 20,
						MessageAttributeNames: []string{"All"},
					})
					if err != nil {
						continue // stopping, or the SDK's retries ran out: poll again
					}
					var wg sync.WaitGroup
					for _, m := range out.Messages {
						wg.Go(func() {
							headers := make(map[string]string, len(m.MessageAttributes))
							for k, v := range m.MessageAttributes {
								headers[k] = aws.ToString(v.StringValue)
							}
							if deliverUntilTaken(ctx, func() error { return deliver(headers, []byte(aws.ToString(m.Body))) }) {
								_, _ = client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: queueURL, ReceiptHandle: m.ReceiptHandle})
							}
						})
					}
					wg.Wait()
				}
			})
		}
		pollers.Wait()
	}
	g.close = func() error {
		_, err := client.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: queueURL})
		return err
	}
	return g, nil
}
