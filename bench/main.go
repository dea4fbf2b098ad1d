package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// quickBudget is what the measured windows and warm-ups of --quick add up
// to, whatever the scenarios; quickRounds keeps the number of child
// processes started low. With their start-up the run stays under a minute.
const (
	quickBudget = 15 * time.Second
	quickRounds = 3
)

func main() {
	if name, ok := childName(os.Args[1:]); ok {
		if err := runChild(name, os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s%s: %v\n", childPrefix, name, err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// listFlag collects a flag that may be repeated or hold a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func run(args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var names listFlag
	fs.Var(&names, "scenario", "run only this `name`d scenario (repeatable, or a comma list; default all: "+strings.Join(scenarioNames(), ", ")+")")
	opts := runOptions{}
	fs.IntVar(&opts.rounds, "rounds", 5, "measured rounds per contender")
	fs.DurationVar(&opts.duration, "duration", 10*time.Second, "length of one measured window")
	quick := fs.Bool("quick", false, "3 rounds with windows sized so that the whole run takes under a minute, for a first look (--rounds and --duration still win if given)")
	fs.StringVar(&opts.cpuProfile, "cpuprofile", "", "each contender's process writes a CPU profile to `prefix`.<scenario>.<contender> (the last round's is kept)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: use flags only", fs.Args())
	}
	selected, err := selectScenarios(names)
	if err != nil {
		return err
	}
	if opts.rounds < 1 {
		return fmt.Errorf("--rounds %d: want at least 1", opts.rounds)
	}
	if *quick && !flagSet(fs, "rounds") {
		opts.rounds = quickRounds
	}
	if *quick && !flagSet(fs, "duration") {
		runs := 0
		for _, s := range selected {
			runs += opts.rounds * len(s.Contenders)
		}
		opts.duration = quickBudget * 4 / 5 / time.Duration(runs)
	}
	if opts.duration <= 0 {
		return fmt.Errorf("--duration %s: want a positive duration", opts.duration)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, s := range selected {
		res, err := runScenario(ctx, s, opts, progress)
		if err != nil {
			return err
		}
		res.writeTable(out)
		results = append(results, res)
	}
	fmt.Fprintln(out)
	for _, res := range results {
		fmt.Fprintf(out, "ratio %s %.2f\n", res.scenario.Name, res.throughputRatio())
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
