// Command ferretdb runs an embedded FerretDB for the local test services.
//
// The upstream cmd/ferretdb binary cannot be built from the module proxy
// (it needs generated version files), so this wrapper embeds the library.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend handler: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "", "SQLite URI of an existing directory, e.g. file:/abs/dir/")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL connection URL")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()

	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}

	switch *handler {
	case "sqlite":
		if err := checkSQLiteURL(*sqliteURL); err != nil {
			return err
		}
		cfg.SQLiteURL = *sqliteURL
	case "postgresql":
		if *postgresqlURL == "" {
			return errors.New("-postgresql-url is required for the postgresql handler")
		}
		cfg.PostgreSQLURL = *postgresqlURL
	default:
		return fmt.Errorf("-handler must be sqlite or postgresql, not %q", *handler)
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		return err
	}

	// SIGTERM comes from services.sh down, SIGINT from a terminal.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logger.Info("ferretdb starting", "listen", *listen, "handler", *handler)

	if err = f.Run(ctx); err != nil {
		return err
	}

	logger.Info("ferretdb stopped")

	return nil
}

// checkSQLiteURL fails early with a readable message instead of a backend error
// on the first request.
func checkSQLiteURL(u string) error {
	if !strings.HasPrefix(u, "file:") || !strings.HasSuffix(u, "/") {
		return fmt.Errorf("-sqlite-url must look like file:/abs/dir/, got %q", u)
	}

	dir := strings.TrimPrefix(u, "file:")
	if i := strings.IndexByte(dir, '?'); i >= 0 {
		dir = dir[:i]
	}

	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("-sqlite-url directory: %w", err)
	}

	if !st.IsDir() {
		return fmt.Errorf("-sqlite-url: %s is not a directory", dir)
	}

	return nil
}
