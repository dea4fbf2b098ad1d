package plugin

import (
	"io"
	"log/slog"
	"os"
)

// processStderr is the process's standard error as it was at start: while
// Serve runs, go-plugin replaces os.Stderr with a pipe the bus discards,
// but it reads the original line by line into its own log.
var processStderr io.Writer = os.Stderr

// Logger returns a logger whose lines the bus copies into its own log,
// with their level and attributes (one JSON object per line in go-plugin's
// hclog format, on the process's standard error).
func Logger() *slog.Logger {
	return slog.New(NewLogHandler(processStderr, slog.LevelDebug))
}

// NewLogHandler returns a slog handler that writes w in the line format
// the bus reads from a plugin: JSON with "@level", "@message" and
// "@timestamp".
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
