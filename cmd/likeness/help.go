package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// command is what `likeness SUB --help` says about a subcommand, besides
// its flags (which come from its FlagSet).
type command struct {
	name    string // as typed: "serve", "app create", …
	purpose string
	example string
}

// commands are every subcommand, in the order `likeness help` lists them.
var commands = []command{
	{"serve", "Serve the widget (/fio.js), the widget WebSocket, the REST API (/v1), the console (/console), the self-service privacy pages and the JWKS.",
		"likeness serve --addr 127.0.0.1:8080 --data data --demo"},
	{"app create", "Create an application; print its public ID, and an API key and a webhook secret that are shown only this once.",
		"likeness app create --data data --name Shop --origin https://shop.example --json"},
	{"admin create", "Create a console account that owns an organization (the password is read from standard input unless --password-file is given).",
		"printf '%s\\n' \"$PASSWORD\" | likeness admin create --data data --email you@example.com"},
	{"audit verify", "Check every organization's hash-chained audit trail; exit 1 when an entry was edited, deleted or reordered.",
		"likeness audit verify --data data"},
	{"keys rotate", "Make a new token signing key: it signs from now on; the old key stays in the JWKS until every token it signed has expired (serve also rotates on a schedule, --key-rotation).",
		"likeness keys rotate --data data"},
	{"org restore", "Undo an organization's deletion within 90 days: members, applications and settings come back, biometrics never do.",
		"likeness org restore --data data --org ORG_ID"},
	{"index rebuild", "Re-sync the vector index with the database (after a restore, or to move to Weaviate).",
		"likeness index rebuild --data data"},
	{"index compact", "Make pending erasures physical in the vector index.",
		"likeness index compact --data data"},
	{"migrate", "Copy an embedded deployment (the SQLite store of a data directory) into an empty PostgreSQL database, as stored: sealed data stays sealed with the same master key; then open the copy as a server would, verify its audit trail and, with Weaviate, fill the vector store.",
		"likeness migrate --from data --to postgres://likeness@db.internal/likeness"},
	{"eval", "Evaluate the engine: verification, liveness and detection on a labelled face set (labels.csv, pairs.csv); --identify: open-set identification over <person>/<photo> folders; --age: the minors gate over <age>_… photos.",
		"likeness eval --identify --faces ../shared/lfw --json"},
	{"bench engine", "Time the engine on one core over a 640×480 frame of a real face.",
		"likeness bench engine --json"},
	{"bench index", "Measure the vector index: speed, recall and memory at N faces.",
		"likeness bench index --store embedded --n 10000,100000 --json"},
	{"bench load", "Run concurrent widget sessions against a `likeness serve` it starts.",
		"likeness bench load --n 1,10,50 --json"},
}

// helpRequested carries a subcommand's help text from parse to run, which
// prints it on standard output and exits 0.
type helpRequested string

func (h helpRequested) Error() string { return "help requested" }

// lookup returns the command named name, if any.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// helpText is a subcommand's help: purpose, usage, every flag with its
// default, and an example.
func helpText(fs *flag.FlagSet) string {
	c, _ := lookup(fs.Name())
	var b strings.Builder
	if c.purpose != "" {
		fmt.Fprintf(&b, "likeness %s — %s\n\n", fs.Name(), c.purpose)
	}
	fmt.Fprintf(&b, "Usage:\n  likeness %s [flags]\n\nFlags:\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if kind != "" {
			name += " " + kind
		}
		if !strings.Contains(usage, "(default") { // else the usage explains a computed default
			def := f.DefValue
			if def == "" {
				def = "none"
			}
			usage += " (default: " + def + ")"
		}
		fmt.Fprintf(&b, "  %s\n      %s\n", name, usage)
	})
	if c.example != "" {
		fmt.Fprintf(&b, "\nExample:\n  %s\n", c.example)
	}
	return b.String()
}

// groupHelp lists the subcommands of a group (`likeness bench --help`), or
// returns false when group has none.
func groupHelp(group string) (string, bool) {
	var b strings.Builder
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(&b, "  likeness %-14s %s\n", c.name, c.purpose)
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return "likeness " + group + " subcommands (each answers --help):\n" + b.String(), true
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// flagName matches a flag as Go's flag package writes it in errors (-name).
var flagName = regexp.MustCompile(`(^|[\s:])-{1,2}([A-Za-z][\w.-]*)`)

// flagError rewrites an error of Go's flag package so that it names the
// flag as it is typed (--console-signup) and says where the help is.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		msg = "unknown flag " + strings.TrimPrefix(msg, "flag provided but not defined: ")
	case strings.HasPrefix(msg, "flag needs an argument: "):
		msg = strings.TrimPrefix(msg, "flag needs an argument: ") + " needs a value"
	}
	msg = strings.Replace(msg, "for flag -", "for -", 1)
	msg = flagName.ReplaceAllString(msg, "$1--$2")
	return usageError(fmt.Sprintf("%s (see: likeness %s --help)", msg, fs.Name()))
}

// printHelp handles a helpRequested error: prints it and succeeds.
func printHelp(err error, stdout io.Writer) (bool, error) {
	var h helpRequested
	if !errors.As(err, &h) {
		return false, err
	}
	_, werr := io.WriteString(stdout, string(h))
	return true, werr
}
