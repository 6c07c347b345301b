package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// instanceIDKey is the context key that Distribution 3.1.2 reads to add an
// "instance.id" field to the logrus entries it builds from a context
// (internal/dcontext/logger.go in that module). Distribution looks it up with
// a plain string, so this key must be an untyped string too. Setting it on the
// app context and on each request context lets distributionHook send an entry
// to the slog logger of the server that produced it.
const instanceIDKey = "instance.id"

var (
	// activeServers maps an instance id to its *Server while it is running.
	activeServers sync.Map
	nextInstance  atomic.Uint64
	configureOnce sync.Once
)

// newInstanceID returns a process-unique id for a server.
func newInstanceID() string {
	return fmt.Sprintf("wasmcas-serve-%d", nextInstance.Add(1))
}

// withInstanceID stores id in ctx under the key Distribution's logger reads.
func withInstanceID(ctx context.Context, id string) context.Context {
	//nolint:staticcheck // Distribution looks the value up with a string key.
	return context.WithValue(ctx, instanceIDKey, id)
}

// configureDistributionLogging silences logrus output and installs
// distributionHook. Distribution logs through the process-wide logrus standard
// logger, which has no per-instance setting, so this runs once per process and
// also affects any other logrus user in it. The error level makes logrus drop
// Distribution's per-request info entries before formatting them.
func configureDistributionLogging() {
	configureOnce.Do(func() {
		logger := logrus.StandardLogger()
		logger.SetOutput(io.Discard)
		logger.SetLevel(logrus.ErrorLevel)
		logger.AddHook(distributionHook{})
	})
}

// distributionHook forwards Distribution's error entries to slog.
type distributionHook struct{}

func (distributionHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.ErrorLevel, logrus.FatalLevel, logrus.PanicLevel}
}

func (distributionHook) Fire(entry *logrus.Entry) error {
	// Distribution logs every error response, including the 404s that
	// clients expect when they check whether a blob exists. Those are not
	// server faults, and the request log already records them.
	if status, ok := entry.Data["http.response.status"].(int); ok && status < 500 {
		return nil
	}

	logger := slog.Default()
	if id, ok := entry.Data[instanceIDKey].(string); ok {
		if value, found := activeServers.Load(id); found {
			logger = value.(*Server).logger
		}
	}

	logger.LogAttrs(context.Background(), slog.LevelError, "registry handler failed", distributionAttrs(entry)...)
	return nil
}

// distributionFields lists the logrus fields copied to slog. It is an allow
// list so that request details Distribution may add, such as the user agent
// or remote address, and the signed upload state in query strings never reach
// the log.
var distributionFields = []string{
	"http.request.method",
	"http.response.status",
	"vars.name",
	"vars.reference",
	"vars.digest",
	"err.code",
	"err.message",
	"err.detail",
	logrus.ErrorKey,
}

func distributionAttrs(entry *logrus.Entry) []slog.Attr {
	attrs := []slog.Attr{slog.String("message", entry.Message)}

	if uri, ok := entry.Data["http.request.uri"].(string); ok {
		attrs = append(attrs, slog.String("path", pathOnly(uri)))
	}
	for _, key := range distributionFields {
		if value, ok := entry.Data[key]; ok && value != nil {
			attrs = append(attrs, slog.String(key, fmt.Sprint(value)))
		}
	}
	return attrs
}

// pathOnly drops the query from a request URI.
func pathOnly(uri string) string {
	if parsed, err := url.ParseRequestURI(uri); err == nil {
		return parsed.Path
	}
	path, _, _ := strings.Cut(uri, "?")
	return path
}
