package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every subcommand answers --help and -h with its purpose, every flag with
// its default and an example, on standard output, and succeeds.
func TestEverySubcommandHelp(t *testing.T) {
	ctx := context.Background()
	flagLine := regexp.MustCompile(`(?m)^  --[a-z][\w-]*`)
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			var first string
			for _, h := range []string{"--help", "-h"} {
				var out, errOut bytes.Buffer
				if err := run(ctx, append(strings.Fields(c.name), h), &out, &errOut); err != nil {
					t.Fatalf("%s %s: %v (exit non-zero)", c.name, h, err)
				}
				text := out.String()
				if first == "" {
					first = text
				} else if text != first {
					t.Errorf("%s and --help differ", h)
				}
				for _, want := range []string{"likeness " + c.name + " — " + c.purpose, "Flags:", "Example:\n  " + c.example} {
					if !strings.Contains(text, want) {
						t.Errorf("%s %s lacks %q:\n%s", c.name, h, want, text)
					}
				}
				flags := flagLine.FindAllString(text, -1)
				if len(flags) == 0 || strings.Count(text, "(default") != len(flags) {
					t.Errorf("%s: %d flags, %d defaults:\n%s", c.name, len(flags), strings.Count(text, "(default"), text)
				}
				if errOut.Len() != 0 {
					t.Errorf("help went to stderr: %s", errOut.String())
				}
			}
			var out bytes.Buffer
			if err := run(ctx, append([]string{"help"}, strings.Fields(c.name)...), &out, &out); err != nil || out.String() != first {
				t.Errorf("likeness help %s: %v\n%s", c.name, err, out.String())
			}
		})
	}
	t.Run("serve lists its security flags", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(ctx, []string{"serve", "--help"}, &out, &out); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"--addr string", "--data string", "--demo", "--public-url", "--console-signup", "--webhook-allow-private",
			"--trusted-proxies", "--models", "--vector-store", "(default: 127.0.0.1:8080)",
			"--metrics-addr", "--drain-timeout duration", "(default: 25s)"} {
			if !strings.Contains(out.String(), f) {
				t.Errorf("serve --help lacks %s", f)
			}
		}
	})
}

func TestTopLevelAndGroupHelp(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		var out bytes.Buffer
		if err := run(ctx, args, &out, &out); err != nil || !strings.Contains(out.String(), "likeness SUBCOMMAND --help") {
			t.Errorf("%v: %v\n%s", args, err, out.String())
		}
		for _, c := range commands {
			if !strings.Contains(out.String(), "likeness "+c.name) {
				t.Errorf("%v does not list %s", args, c.name)
			}
		}
	}
	for group, want := range map[string][]string{"bench": {"bench engine", "bench index", "bench load"}, "index": {"index rebuild", "index compact"},
		"app": {"app create"}, "admin": {"admin create"}, "audit": {"audit verify"}} {
		var out bytes.Buffer
		if err := run(ctx, []string{group, "--help"}, &out, &out); err != nil {
			t.Errorf("%s --help: %v", group, err)
		}
		for _, w := range want {
			if !strings.Contains(out.String(), "likeness "+w) {
				t.Errorf("%s --help lacks %s:\n%s", group, w, out.String())
			}
		}
	}
}

// Flag errors name the flag as typed, never a Go identifier, and exit 2.
func TestFlagErrorsNameTheFlag(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(t.TempDir(), "master.key"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--nope"}, "unknown flag --nope (see: likeness serve --help)"},
		{[]string{"serve", "--max-sessions", "many"}, `invalid value "many" for --max-sessions`},
		{[]string{"serve", "--console-signup", "sometimes"}, `--console-signup must be first, open or off, not "sometimes"`},
		{[]string{"serve", "--drain-timeout", "-1s"}, "--drain-timeout must be 0 (no drain) or a positive duration"},
		{[]string{"serve", "--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, "--metrics-addr must differ from --addr"},
		{[]string{"app", "create", "--data"}, "--data needs a value (see: likeness app create --help)"},
		{[]string{"eval", "-faces"}, "--faces needs a value"},
		{[]string{"audit", "verify", "--json=maybe"}, `invalid boolean value "maybe" for --json`},
	} {
		var out bytes.Buffer
		err := run(ctx, c.args, &out, &out)
		if _, usage := err.(usageError); !usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (usage error: %v), want %q", c.args, err, usage, c.want)
			continue
		}
		for _, bad := range []string{"SignUp", "web:", "flag provided", " -max", "MaxSessions"} {
			if strings.Contains(err.Error(), bad) {
				t.Errorf("%v: %q shows %q", c.args, err, bad)
			}
		}
	}
}

// Every FlagSet of the package is a subcommand listed in commands (with a
// purpose and an example for its --help), so a new subcommand cannot ship
// without them.
func TestEveryFlagSetHasHelp(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`flag\.NewFlagSet\("([^"]+)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			found++
			if strings.HasSuffix(m[1], " ") { // "index "+args[0]: a group; its members are checked by name below
				if _, ok := groupHelp(strings.TrimSpace(m[1])); !ok {
					t.Errorf("%s: group %q has no subcommand in commands", f, m[1])
				}
				continue
			}
			if _, ok := lookup(m[1]); !ok {
				t.Errorf("%s: subcommand %q has no entry in commands (help.go)", f, m[1])
			}
		}
	}
	if found < len(commands)-1 { // index rebuild/compact share one FlagSet call
		t.Errorf("found only %d FlagSets", found)
	}
}
