// Command shopfront is the SDK's example: a net/http service instrumented
// in a few lines. It serves GET /items/{id}, which asks an inventory
// service (-inventory, uninstrumented or not) for the item, and /metrics.
//
//	go run ./examples/shopfront -endpoint http://127.0.0.1:4318
//	curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:8080/items/42
//
// Its spans, and the logs with -export-logs, go to the OTLP/HTTP endpoint
// (Horus' 4318 port); its metrics are scraped from /metrics, exemplars
// included.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/horus-obs/horus/sdk"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	endpoint := flag.String("endpoint", "", "OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT, else no export)")
	inventory := flag.String("inventory", "", "base URL of the inventory service (default: none, items are always in stock)")
	exportLogs := flag.Bool("export-logs", false, "also send the logs over OTLP")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *endpoint, *inventory, *exportLogs); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, endpoint, inventory string, exportLogs bool) error {
	// 1. Start the service's telemetry.
	tel, shutdown, err := sdk.Start(ctx, sdk.Config{
		Service: "shopfront", Version: "1.0.0", Environment: "dev",
		Endpoint: endpoint, ExportLogs: exportLogs,
	})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	// 2. An instrumented client for each service it calls.
	inv := tel.Client("inventory")
	inv.Timeout = 2 * time.Second

	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if inventory != "" {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inventory+"/stock/"+id, nil)
			resp, err := inv.Do(req)
			if err != nil {
				// 3. Log with the request's context: trace_id, span_id and request_id come along.
				tel.Logger.ErrorContext(r.Context(), "inventory unavailable", "item_id", id, "error", err)
				http.Error(w, "inventory unavailable", http.StatusBadGateway)
				return
			}
			_ = resp.Body.Close()
		}
		tel.Logger.InfoContext(r.Context(), "item viewed", "item_id", id)
		fmt.Fprintf(w, "item %s\n", id)
	})
	mux.Handle("GET /metrics", tel.MetricsHandler())

	// 4. Wrap the mux: traces, RED metrics, request logs, panics.
	srv := &http.Server{Addr: addr, Handler: tel.Middleware(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	tel.Logger.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
