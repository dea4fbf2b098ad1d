package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// kafkaURL is the Kafka the test's route uses: EVENTBUS_TEST_KAFKA (a
// kafka:// URL or host:port) when set, else an in-process kfake broker
// that speaks the Kafka protocol.
func kafkaURL(t *testing.T) string {
	if addr := os.Getenv("EVENTBUS_TEST_KAFKA"); addr != "" {
		return "kafka://" + strings.TrimPrefix(addr, "kafka://")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return "kafka://" + strings.Join(c.ListenAddrs(), ",")
}

// stored reads the store's file: how many lines, the distinct (source, id)
// pairs, and the number of batches they were written in.
func stored(t *testing.T, path string) (lines int, distinct map[string]bool, batches map[int64]int) {
	t.Helper()
	distinct, batches = map[string]bool{}, map[int64]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, distinct, batches
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Batch      int64
			Source, ID string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a line being written
		}
		lines++
		distinct[r.Source+" "+r.ID] = true
		batches[r.Batch]++
	}
	return lines, distinct, batches
}

// 10,000 log events from four collectors go through a Kafka-backed route
// to the store plugin, which writes them in batches; every one is stored.
func TestEveryLogEventIsStoredInBatches(t *testing.T) {
	const total = 10_000
	dir := t.TempDir()
	bin := filepath.Join(dir, "store")
	if out, err := exec.Command("go", "build", "-o", bin, "../store").CombinedOutput(); err != nil {
		t.Fatalf("building the store: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "logs.jsonl")

	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins[0].Cmd = bin
	cfg.Plugins[0].Env = map[string]string{"STORE_FILE": file}
	cfg.Routes[0].Backend = kafkaURL(t)
	srv := bustest.Start(t, cfg)
	client, err := sdk.New(srv.URL, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	n, err := run(t.Context(), client, total, 4, 100)
	if err != nil || n != total {
		t.Fatalf("the bus stored %d of %d events: %v", n, total, err)
	}
	emitted := time.Since(start)

	var lines int
	var distinct map[string]bool
	var batches map[int64]int
	testkit.EventuallyNoError(t, 25*time.Second, func() error {
		if lines, distinct, batches = stored(t, file); len(distinct) < total {
			return fmt.Errorf("%d of %d log events stored", len(distinct), total)
		}
		return nil
	})
	largest := 0
	for _, size := range batches {
		largest = max(largest, size)
	}
	t.Logf("emitted %d in %s, all stored after %s: %d lines (%d redelivered) in %d batches, the largest %d",
		total, emitted, time.Since(start), lines, lines-total, len(batches), largest)
	if len(distinct) != total {
		t.Errorf("%d distinct events stored; want exactly the %d emitted", len(distinct), total)
	}
	if largest < 2 {
		t.Errorf("the store wrote every event on its own; want batches of several")
	}
}
