// Package build renders planetary's documentation site: the Markdown pages
// of package website, plus the references generated from code (the mission
// schema of core/mission and the CLI's command help), into static HTML with
// a navigation sidebar, build-time code highlighting and one stylesheet. The
// site needs no JavaScript and loads nothing from the network.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/mission"
)

var (
	// ErrNoContent is returned by New when Config.Content is nil.
	ErrNoContent = errors.New("build: no content")
	// ErrMissingPage is returned when a page named in the navigation has
	// no source.
	ErrMissingPage = errors.New("build: page source missing")
	// ErrBrokenLinks is returned by Build when a page links to a page or
	// anchor that does not exist.
	ErrBrokenLinks = errors.New("build: broken links")
)

// StylesheetName is the site's one stylesheet, at the root of the output.
const StylesheetName = "style.css"

// Config configures a Builder.
type Config struct {
	// Content holds the Markdown sources named by Nav().
	Content fs.FS
	// Stylesheet is the CSS written to StylesheetName.
	Stylesheet []byte
	// Commands are the CLI commands for the generated CLI reference.
	Commands []CommandDoc
	// Version is shown in the page header.
	Version string
	Logger  hclog.Logger
}

// DefaultConfig returns a Config with a null logger; Content, Stylesheet and
// Commands must be set by the caller.
func DefaultConfig() Config {
	return Config{Logger: hclog.NewNullLogger(), Version: "dev"}
}

// Builder renders the site.
type Builder struct {
	cfg  Config
	tmpl *template.Template
}

// New checks cfg and returns a Builder.
func New(cfg Config) (*Builder, error) {
	if cfg.Content == nil {
		return nil, ErrNoContent
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	t, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("build: page template: %w", err)
	}
	return &Builder{cfg: cfg, tmpl: t}, nil
}

// Site is a built site: file name -> contents.
type Site struct {
	Files map[string][]byte
	// Sources holds each page's Markdown (generated pages included), by
	// file name of the page.
	Sources map[string][]byte
}

// Page is the data of one rendered page.
type page struct {
	Spec     PageSpec
	Title    string
	Body     template.HTML
	Headings []heading
	Nav      []navSection
	Prev     *PageSpec
	Next     *PageSpec
	Version  string
	Style    string
}

type navSection struct {
	Title string
	Pages []navLink
}

type navLink struct {
	Href    string
	Title   string
	Current bool
}

// FileName is the output file of a page slug.
func FileName(slug string) string { return slug + ".html" }

// Markdown returns the Markdown source of spec: read from Content, or
// generated.
func (b *Builder) Markdown(spec PageSpec) ([]byte, error) {
	switch spec.Generated {
	case genCLI:
		return []byte(cliReference(b.cfg.Commands)), nil
	case genMission:
		return []byte(missionReference(mission.Reference(), mission.ActionReference())), nil
	}
	src, err := fs.ReadFile(b.cfg.Content, spec.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMissingPage, spec.Source, err)
	}
	return src, nil
}

// Build renders every page in memory and checks every internal link.
func (b *Builder) Build() (*Site, error) {
	md := newMarkdown()
	nav := Nav()
	var order []PageSpec
	for _, s := range nav {
		order = append(order, s.Pages...)
	}
	site := &Site{Files: map[string][]byte{}, Sources: map[string][]byte{}}
	site.Files[StylesheetName] = b.cfg.Stylesheet
	for i, spec := range order {
		src, err := b.Markdown(spec)
		if err != nil {
			return nil, err
		}
		r, err := renderMarkdown(md, src)
		if err != nil {
			return nil, fmt.Errorf("build: %s: %w", spec.Slug, err)
		}
		p := page{Spec: spec, Title: r.Title, Body: template.HTML(r.HTML), Headings: r.Headings,
			Version: b.cfg.Version, Style: StylesheetName}
		if p.Title == "" {
			p.Title = spec.Title
		}
		if i > 0 {
			p.Prev = &order[i-1]
		}
		if i+1 < len(order) {
			p.Next = &order[i+1]
		}
		for _, s := range nav {
			ns := navSection{Title: s.Title}
			for _, ps := range s.Pages {
				ns.Pages = append(ns.Pages, navLink{Href: FileName(ps.Slug), Title: ps.Title, Current: ps.Slug == spec.Slug})
			}
			p.Nav = append(p.Nav, ns)
		}
		var buf bytes.Buffer
		if err := b.tmpl.Execute(&buf, p); err != nil {
			return nil, fmt.Errorf("build: %s: %w", spec.Slug, err)
		}
		site.Files[FileName(spec.Slug)] = buf.Bytes()
		site.Sources[FileName(spec.Slug)] = src
	}
	if errs := site.CheckLinks(); len(errs) > 0 {
		return site, fmt.Errorf("%w: %w", ErrBrokenLinks, errors.Join(errs...))
	}
	b.cfg.Logger.Debug("site built", "pages", len(order))
	return site, nil
}

// Names returns the site's file names, sorted.
func (s *Site) Names() []string {
	names := make([]string, 0, len(s.Files))
	for n := range s.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Write writes the site into dir, creating it, and removes stale .html
// files that the site no longer has.
func (s *Site) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.html"))
	for _, p := range old {
		if _, ok := s.Files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("build: remove stale page: %w", err)
			}
		}
	}
	for _, name := range s.Names() {
		if err := os.WriteFile(filepath.Join(dir, name), s.Files[name], 0o644); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	return nil
}

// Handler serves the site: "/" is index.html, "/x" and "/x.html" the page x.
func (s *Site) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		body, ok := s.Files[name]
		if !ok {
			body, ok = s.Files[name+".html"]
			name += ".html"
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		ct := "text/html; charset=utf-8"
		if strings.HasSuffix(name, ".css") {
			ct = "text/css; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'")
		_, _ = w.Write(body)
	})
}

// Serve serves handler on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("build: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("build: shutdown: %w", err)
	}
	return nil
}

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · planetary</title>
<link rel="stylesheet" href="{{.Style}}">
</head>
<body>
<header class="top"><a class="brand" href="index.html">planetary</a><span class="version">{{.Version}}</span>
<nav class="toplinks"><a href="getting-started.html">Get started</a><a href="mission-reference.html">mission.hcl</a><a href="cli.html">CLI</a><a href="http-api.html">API</a><a href="plugins.html">Plugins</a></nav></header>
<div class="layout">
<nav class="sidebar" aria-label="Site">
{{range .Nav}}<p class="section">{{.Title}}</p>
<ul>{{range .Pages}}<li{{if .Current}} class="current"{{end}}><a href="{{.Href}}">{{.Title}}</a></li>
{{end}}</ul>
{{end}}</nav>
<main>
<article class="doc">
{{.Body}}
</article>
<nav class="pager">{{with .Prev}}<a class="prev" href="{{.Slug}}.html">← {{.Title}}</a>{{end}}{{with .Next}}<a class="next" href="{{.Slug}}.html">{{.Title}} →</a>{{end}}</nav>
</main>
{{if .Headings}}<aside class="toc" aria-label="On this page"><p class="section">On this page</p>
<ul>{{range .Headings}}{{if eq .Level 2}}<li><a href="#{{.ID}}">{{.Text}}</a></li>
{{end}}{{end}}</ul></aside>{{end}}
</div>
</body>
</html>
`
