// Command bench-server is a measuring instrument for the benchmarks: a MongoDB wire-protocol server (OP_MSG,
// plus the legacy OP_QUERY hello) that serves a deterministic synthetic database from memory, fast enough that
// the tools measured against it, not the server, set the pace. Inserted documents are counted and digested,
// then dropped. Correctness tests run on FerretDB; this server answers just enough for mongodump, mongorestore
// and atlas-ops to run unchanged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench-server: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (port 0: any free port)")
	dbName := flag.String("db", "bench", "name of the synthetic database")
	orders := flag.Int64("orders", 100_000, "documents in the synthetic <db>.orders collection")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	read := flag.String("read", "", "instead of serving: read <db>.orders from the server at this host:port and print the speed")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	if *orders < 0 {
		return fmt.Errorf("-orders must be >= 0, not %d", *orders)
	}
	if *read != "" {
		return readCollection(*read, *dbName, ordersCollection)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Generated before listening: a client that connects finds all of it ready.
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	data := newSyntheticDatabase(*dbName, *orders)
	srv := newServer(logger, &data)
	// The bench starts its own instance on port 0 and reads the address from this line.
	fmt.Printf("listening on %s\n", listener.Addr())
	logger.Info("bench-server starting", "listen", listener.Addr().String(), "db", *dbName, "orders", *orders)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		listener.Close()
	}()

	var wg sync.WaitGroup
	for {
		conn, err := listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.serve(ctx, conn)
		}()
	}
	srv.closeConnections()
	wg.Wait()
	logger.Info("bench-server stopped")
	return nil
}
