// Command novae converts, inspects and (with the backends) runs SVG models.
//
//	go run ./tools/novae <command> [flags] [args]
//	go run ./tools/novae help <command>
//
// Each command lives in its own file (cmd_*.go) and registers itself from
// init with register; main only dispatches. A command returns an error for a
// failure (exit 1) or a usageError for bad arguments (exit 2, with the
// command's usage).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	Name    string
	Args    string // argument synopsis after the flags, e.g. "WEIGHTS"
	Summary string // one line for the command list
	Help    string // more text for `novae help <cmd>` (optional)
	// Flags declares the command's flags on fs and returns the function
	// that runs it with the remaining arguments, writing to stdout.
	Flags func(fs *flag.FlagSet) func(args []string, stdout io.Writer) error
}

var commands = map[string]*command{}

// register adds a command; call it from an init function.
func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("novae: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// usageError is a bad invocation: the usage is printed and the exit code is 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	if os.Getenv("GOGC") == "" {
		// The commands hold one model's tensors (GBs for SVG-XL) and churn
		// through per-tensor f32 copies: collect early rather than let the
		// heap double (measured: convert of SVG-XL, 5.9 → 4.0 GB peak).
		debug.SetGCPercent(30)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 || argv[0] == "-h" || argv[0] == "-help" || argv[0] == "--help" {
		listCommands(stderr)
		if len(argv) == 0 {
			return 2
		}
		return 0
	}
	name := argv[0]
	if name == "help" {
		if len(argv) > 1 {
			if c, ok := commands[argv[1]]; ok {
				fs := newFlagSet(c, stderr)
				c.Flags(fs)
				fs.Usage()
				return 0
			}
		}
		listCommands(stderr)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "novae: unknown command %q\n\n", name)
		listCommands(stderr)
		return 2
	}
	fs := newFlagSet(c, stderr)
	runFn := c.Flags(fs)
	if err := fs.Parse(argv[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package printed the error and the usage
	}
	if err := runFn(fs.Args(), stdout); err != nil {
		fmt.Fprintf(stderr, "novae %s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr)
			fs.Usage()
			return 2
		}
		return 1
	}
	return 0
}

func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("novae "+c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: novae %s [flags] %s\n\n%s\n", c.Name, c.Args, c.Summary)
		if c.Help != "" {
			fmt.Fprintf(stderr, "\n%s\n", strings.TrimSpace(c.Help))
		}
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func listCommands(w io.Writer) {
	fmt.Fprintln(w, "usage: novae <command> [flags] [args]   (novae help <command> for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
}

// oneArg returns the single positional argument a command takes.
func oneArg(args []string, what string) (string, error) {
	switch len(args) {
	case 1:
		return args[0], nil
	case 0:
		return "", usagef("missing %s", what)
	}
	return "", usagef("want one %s, got %d arguments: %s", what, len(args), strings.Join(args, " "))
}
