//go:build race

package vecindex

// raceEnabled makes the heavy tests smaller under the race detector, which
// slows this arithmetic tenfold.
const raceEnabled = true
