// Package demo runs the Horus demo: a small shop of separate services,
// each its own OS process instrumented only through the Horus SDK, a load
// generator, switchable faults, and Horus itself in-process with embedded
// storage, so that `horus demo` (and `make run`) shows correlated metrics,
// logs and traces within a minute. docs/demo.md is the user's guide.
//
// The parent process (Start) binds every service's listener on 127.0.0.1
// and hands it to the service process as an inherited file descriptor, so
// there is no port race and a restart (a deploy) keeps the address; it
// writes the services' management addresses into Horus' scrape
// configuration, supervises the processes, drives the load and serves the
// control API that `horus demo fault|scenario|deploy|status` call.
//
//	load ──► api-gateway ──► auth
//	              │ ├──────► orders ──► products (SQLite catalogue)
//	              │ │          └──────► notifications ──► email-provider*
//	              │ └──────► payments ×3 ──► fraud-check
//	              │              └─────────► bank-api*
//	              └ (* not instrumented: virtual nodes in the service graph)
package demo
