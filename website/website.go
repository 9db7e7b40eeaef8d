// Package website holds the sources of planetary's documentation site: the
// Markdown pages under content/ and the stylesheet under assets/. Package
// website/build renders them (`planetary docs build`), adding the mission
// and CLI references generated from code.
//
// Tested shell sessions: a fenced block written ```sh {test} is run by this
// package's tests against a real `planetary agent -dev`; see build.Sessions
// for the format.
package website

import (
	"embed"
	"io/fs"
)

//go:embed content/*.md assets/style.css
var sources embed.FS

// Content returns the Markdown pages (index.md, getting-started.md, ...).
func Content() fs.FS {
	sub, err := fs.Sub(sources, "content")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// Stylesheet returns the site's stylesheet.
func Stylesheet() []byte {
	b, err := sources.ReadFile("assets/style.css")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}
