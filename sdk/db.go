package sdk

import (
	"database/sql"
	"fmt"

	"github.com/XSAM/otelsql"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// DBOption adjusts OpenDB.
type DBOption func(*dbConfig)

type dbConfig struct {
	name string
}

// DBName names the database: the db_name label of its pool metrics and
// the db.namespace attribute of its spans. Without it, db_name is the
// dbSystem argument and spans carry no db.namespace. Each database opened
// through one Telemetry needs its own db_name.
func DBName(name string) DBOption {
	return func(c *dbConfig) { c.name = name }
}

// OpenDB opens a database through driverName (registered with
// database/sql as usual) and instruments it:
//
//   - every query, exec, prepare, transaction and rows iteration is a span
//     of t's TracerProvider (github.com/XSAM/otelsql), a child of the span
//     in the call's context, with the statement in db.query.text and
//     dbSystem ("sqlite", "postgresql", ... from OpenTelemetry's
//     db.system.name values) in db.system.name and, its older name, in
//     db.system;
//   - the pool's statistics are collected on t.Registry by client_golang's
//     collectors.NewDBStatsCollector: go_sql_open_connections,
//     go_sql_in_use_connections, go_sql_idle_connections,
//     go_sql_wait_count_total, go_sql_wait_duration_seconds_total, ... with
//     label db_name (DBName, else dbSystem).
//
// The error is sql.Open's, or the registration's when the db_name is
// already in use on t.Registry. The collector stays registered after
// db.Close (reading zeros).
func (t *Telemetry) OpenDB(driverName, dsn, dbSystem string, opts ...DBOption) (*sql.DB, error) {
	cfg := dbConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	attrs := []attribute.KeyValue{
		semconv.DBSystemNameKey.String(dbSystem),
		attribute.String("db.system", dbSystem),
	}
	if cfg.name != "" {
		attrs = append(attrs, semconv.DBNamespace(cfg.name))
	}
	db, err := otelsql.Open(driverName, dsn,
		otelsql.WithTracerProvider(t.TracerProvider),
		otelsql.WithAttributes(attrs...),
		// The pool metrics are the Prometheus collector's below.
		otelsql.WithMeterProvider(noopmetric.NewMeterProvider()),
	)
	if err != nil {
		return nil, err
	}
	name := cfg.name
	if name == "" {
		name = dbSystem
	}
	if err := t.Registry.Register(collectors.NewDBStatsCollector(db, name)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sdk: pool metrics of database %q: %w (name each database with DBName)", name, err)
	}
	return db, nil
}
