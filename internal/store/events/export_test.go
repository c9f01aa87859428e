package events

import "context"

// Exported for the external tests (package events_test), which use
// bench/eventgen, itself an importer of this package.
var (
	AppendRecord = appendRecord
	DecodeRecord = decodeRecord
)

// SetWriteRowsHook makes s call f, with the write's context, every
// writeCheckRows rows of each block it writes or compacts.
func SetWriteRowsHook(s *Store, f func(ctx context.Context)) { s.testHookWriteRows = f }
