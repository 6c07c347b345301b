package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"

	// The blank import registers the "filesystem" storage driver that
	// handlers.NewApp looks up by name.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// shutdownTimeout bounds how long Run waits for in-flight requests after its
// context is cancelled. Large blob transfers still running then are cut off.
const shutdownTimeout = 30 * time.Second

// Server is a running registry. Create it with Start and stop it with
// Shutdown.
type Server struct {
	logger     *slog.Logger
	root       string
	instanceID string
	listener   net.Listener
	http       *http.Server
	app        *handlers.App
	requests   requestLog

	// serveDone receives the result of http.Server.Serve and is then closed.
	serveDone chan error

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start validates cfg, creates the storage directory, builds the Distribution
// registry app and serves it on cfg.Addr in the background. The context bounds
// only the startup. The server runs until Shutdown is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start registry on %s: %w", cfg.Addr, err)
	}
	if err := prepareRoot(cfg.Root); err != nil {
		return nil, err
	}

	configureDistributionLogging()

	var listenConfig net.ListenConfig
	listener, err := listenConfig.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}

	server := &Server{
		logger:     cfg.Logger,
		root:       cfg.Root,
		instanceID: newInstanceID(),
		listener:   listener,
		serveDone:  make(chan error, 1),
	}

	app, err := server.newApp(ctx, listener.Addr().String())
	if err != nil {
		_ = listener.Close()
		return nil, err
	}
	server.app = app

	server.http = &http.Server{
		Handler: server.observe(app),
		// Only the header read is bounded, because blob uploads and
		// downloads may legitimately take long.
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}

	activeServers.Store(server.instanceID, server)
	go server.serve()

	server.logger.Info("registry started", "addr", server.Addr(), "root", server.root)
	return server, nil
}

// newApp builds the Distribution app. NewApp reports configuration problems
// by panicking, so the panic is turned into an error here.
func (s *Server) newApp(ctx context.Context, addr string) (app *handlers.App, err error) {
	config, err := distributionConfig(s.root, addr)
	if err != nil {
		return nil, err
	}

	defer func() {
		if recovered := recover(); recovered != nil {
			err = fmt.Errorf("create registry with root %q: %v", s.root, recovered)
		}
	}()

	// The app keeps this context for its lifetime and cancels it in
	// App.Shutdown, so it must not end when the caller's startup context does.
	appCtx := withInstanceID(context.WithoutCancel(ctx), s.instanceID)
	return handlers.NewApp(appCtx, config), nil
}

func (s *Server) serve() {
	err := s.http.Serve(s.listener)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		s.logger.Error("registry stopped serving", "addr", s.Addr(), "error", err)
	}
	s.serveDone <- err
	close(s.serveDone)
}

// Addr returns the host:port the server listens on, with the port resolved
// when Config.Addr asked for port 0.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests until
// ctx is done. If ctx ends first, the remaining connections are closed and the
// context's error is returned. Later calls wait for the first one and return
// its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.shutdownErr = s.shutdown(ctx)
	})
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	var errs []error

	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("drain registry connections on %s: %w", s.Addr(), err))
		// Close the connections still open, so that their goroutines end.
		if err := s.http.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close registry connections on %s: %w", s.Addr(), err))
		}
	}

	// Serve returns as soon as the listener closes, which both Shutdown and
	// Close do first, so this wait is short.
	if err := <-s.serveDone; err != nil {
		errs = append(errs, err)
	}

	// App.Shutdown cancels the app context, which stops the upload purger.
	// NOTE: Distribution 3.1.2 also starts a go-events broadcaster goroutine
	// in NewApp and offers no way to stop it, so every Start leaves one idle
	// goroutine behind after Shutdown.
	if err := s.app.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shut down registry app: %w", err))
	}
	activeServers.Delete(s.instanceID)

	err := errors.Join(errs...)
	if err != nil {
		s.logger.Error("registry stopped with errors", "addr", s.Addr(), "error", err)
	} else {
		s.logger.Info("registry stopped", "addr", s.Addr())
	}
	return err
}

// Run starts the registry, blocks until ctx is done or the server fails, and
// then shuts it down, waiting up to 30 seconds for in-flight requests. A
// cancelled ctx is the normal way to stop it and returns nil.
func Run(ctx context.Context, cfg Config) error {
	server, err := Start(ctx, cfg)
	if err != nil {
		return err
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-server.serveDone:
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, server.Shutdown(shutdownCtx))
}
