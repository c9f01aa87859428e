package events

// Exported for the external tests (package events_test), which use
// bench/eventgen, itself an importer of this package.
var (
	AppendRecord = appendRecord
	DecodeRecord = decodeRecord
)
