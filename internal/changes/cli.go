package changes

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultURL is where `horus change` finds Horus without --url or
// $HORUS_URL.
const DefaultURL = "http://localhost:3300"

const cliUsage = `usage: horus change <command> [flags]

  horus change add --service S [--kind deploy] [--version V] [--instance I]
                   [--author A] [--description D] [--link title=url]... [--time T]
      record a change (for CI pipelines: a deploy, a config change, a flag)
  horus change ls [--service S] [--instance I] [--kind K] [--since 24h] [--limit N] [--json]
      list changes, newest first

Both take --url (or $HORUS_URL, default ` + DefaultURL + `) and --tenant
(or $HORUS_TENANT, sent as X-Scope-OrgID). Kinds: deploy, config,
feature_flag, rollback, other. Times are RFC 3339 or Unix seconds.
`

// Main runs `horus change` with args (after "change").
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, cliUsage)
		return errors.New("change: add or ls?")
	}
	switch args[0] {
	case "add":
		return cliAdd(ctx, args[1:], stdout, stderr)
	case "ls", "list":
		return cliList(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, cliUsage)
		return nil
	}
	fmt.Fprint(stderr, cliUsage)
	return fmt.Errorf("change: unknown command %q", args[0])
}

// clientFlags registers --url and --tenant.
func clientFlags(fs *flag.FlagSet) *Client {
	c := &Client{}
	def := os.Getenv("HORUS_URL")
	if def == "" {
		def = DefaultURL
	}
	fs.StringVar(&c.URL, "url", def, "Horus' HTTP address ($HORUS_URL)")
	fs.StringVar(&c.Tenant, "tenant", os.Getenv("HORUS_TENANT"), "tenant, sent as X-Scope-OrgID ($HORUS_TENANT)")
	return c
}

// links is a repeatable --link title=url.
type links []Link

func (l *links) String() string { return fmt.Sprint(*l) }

func (l *links) Set(v string) error {
	title, u, ok := strings.Cut(v, "=")
	if !ok || strings.Contains(title, "://") {
		title, u = v, v // a bare URL, whose query may hold '='
	}
	if u == "" {
		return fmt.Errorf("want title=url, got %q", v)
	}
	*l = append(*l, Link{Title: title, URL: u})
	return nil
}

func cliAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("change add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cl := clientFlags(fs)
	var c Change
	var ls links
	var at string
	fs.StringVar(&c.Service, "service", "", "the service that changed (required)")
	fs.StringVar(&c.Kind, "kind", KindDeploy, "deploy, config, feature_flag, rollback or other")
	fs.StringVar(&c.Version, "version", "", "the version deployed")
	fs.StringVar(&c.Instance, "instance", "", "the instance, if the change is one instance's")
	fs.StringVar(&c.Author, "author", "", "who made the change")
	fs.StringVar(&c.Description, "description", "", "what changed")
	fs.Var(&ls, "link", "a link, title=url (repeatable)")
	fs.StringVar(&at, "time", "", "when (RFC 3339 or Unix seconds; default now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("change add takes no arguments, got %q", fs.Args())
	}
	if c.Service == "" {
		return errors.New("change add: --service is required")
	}
	if at != "" {
		t, err := ParseTime(at)
		if err != nil {
			return fmt.Errorf("--time: %w", err)
		}
		c.Time = t
	}
	c.Links, c.Source = ls, SourceCLI
	got, warnings, err := cl.Add(ctx, c)
	if err != nil {
		return fmt.Errorf("change add: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "change %s recorded: %s of %s%s at %s\n", got.ID, got.Kind, got.Service, versionText(got), got.Time.Format(time.RFC3339))
	return nil
}

func versionText(c Change) string {
	s := ""
	if c.Instance != "" {
		s += " (" + c.Instance + ")"
	}
	if c.Version != "" {
		s += " " + c.Version
	}
	return s
}

func cliList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("change ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cl := clientFlags(fs)
	var p ListParams
	since := model.Duration(24 * time.Hour)
	asJSON := false
	fs.StringVar(&p.Service, "service", "", "only this service's changes")
	fs.StringVar(&p.Instance, "instance", "", "only this instance's changes")
	fs.StringVar(&p.Kind, "kind", "", "only changes of this kind")
	fs.Var(&since, "since", "how far back (1h, 7d, ...)")
	fs.IntVar(&p.Limit, "limit", DefaultLimit, "at most this many, the newest")
	fs.BoolVar(&asJSON, "json", false, "print the changes as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("change ls takes no arguments, got %q", fs.Args())
	}
	p.End = time.Now()
	p.Start = p.End.Add(-time.Duration(since))
	list, warnings, err := cl.List(ctx, p)
	if err != nil {
		return fmt.Errorf("change ls: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tSERVICE\tINSTANCE\tVERSION\tSOURCE\tAUTHOR\tDESCRIPTION")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Time.Local().Format("2006-01-02 15:04:05"), c.Kind, c.Service,
			dash(c.Instance), dash(c.Version), c.Source, dash(c.Author), dash(oneLine(c.Description, 60)))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine cuts s to its first line and at most n runes.
func oneLine(s string, n int) string {
	s, _, cut := strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		s, cut = string(r[:n]), true
	}
	if cut {
		s += "…"
	}
	return s
}
