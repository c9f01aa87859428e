//go:build race

package demo

// raceDetector reports whether the tests run under the race detector,
// where the shop (SQLite included, it is Go) runs many times slower.
const raceDetector = true
