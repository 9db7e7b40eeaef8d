package website_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/planetary/planetary/core/console/browsertest"
	"github.com/planetary/planetary/website"
	"github.com/planetary/planetary/website/build"
)

// binDir holds a planetary executable named "planetary": a link to
// $PLANETARY_BIN, or one built from ./cmd/planetary by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "planetary-website-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "planetary")
	if src := os.Getenv("PLANETARY_BIN"); src != "" {
		abs, err := filepath.Abs(src)
		if err == nil {
			err = os.Symlink(abs, dst)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	} else {
		cmd := exec.Command("go", "build", "-o", dst, "github.com/planetary/planetary/cmd/planetary")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

// devAgent is a `planetary agent -dev` started for one page's sessions.
type devAgent struct {
	cmd    *exec.Cmd
	addr   string
	token  string
	stderr *bytes.Buffer
	done   chan error
}

var exportLine = regexp.MustCompile(`export PLANETARY_ADDR=(\S+) PLANETARY_TOKEN=(\S+)`)

func startAgent(t *testing.T, bin, dir, config string) *devAgent {
	t.Helper()
	args := []string{"agent", "-dev", "-http-addr", "127.0.0.1:0", "-bind", "127.0.0.1:0", "-log-level", "warn"}
	if config != "" {
		args = append(args, "-config", config)
	}
	cmd := exec.Command(filepath.Join(bin, "planetary"), args...)
	cmd.Dir = dir
	a := &devAgent{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: a.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := exportLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		a.done <- cmd.Wait()
	}()
	t.Cleanup(func() { a.stop(t) })
	select {
	case m := <-found:
		a.addr, a.token = m[0], m[1]
	case err := <-a.done:
		t.Fatalf("agent exited before its banner: %v\n%s", err, a.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no agent banner within 30s\n%s", a.stderr.String())
	}
	return a
}

func (a *devAgent) stop(t *testing.T) {
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
		t.Errorf("agent did not stop on SIGINT within 15s")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSessions runs every ```sh {test} block of every page against a real
// dev agent, one agent per page, and checks each command's output.
func TestSessions(t *testing.T) {
	bin := binDir
	ran := 0
	for _, sec := range build.Nav() {
		for _, spec := range sec.Pages {
			if spec.Source == "" {
				continue
			}
			src, err := fs.ReadFile(website.Content(), spec.Source)
			if err != nil {
				t.Fatal(err)
			}
			sessions, files, config := build.Sessions(src)
			if len(sessions) == 0 {
				continue
			}
			ran += len(sessions)
			t.Run(spec.Slug, func(t *testing.T) {
				t.Parallel()
				runPage(t, bin, spec.Source, sessions, files, config)
			})
		}
	}
	if ran == 0 {
		t.Fatal("no tested sessions found in the content")
	}
}

func runPage(t *testing.T, bin, source string, sessions []build.Session, files map[string]string, config string) {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := startAgent(t, bin, dir, config)
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PLANETARY_ADDR="+a.addr, "PLANETARY_TOKEN="+a.token)
	for _, s := range sessions {
		for _, st := range s.Steps {
			deadline := time.Now().Add(15 * time.Second)
			for {
				got := runStep(t, dir, env, st.Command)
				if build.MatchOutput(st.Want, got) {
					break
				}
				if !s.Poll || time.Now().After(deadline) {
					t.Fatalf("%s:%d: $ %s\n--- got:\n%s\n--- want:\n%s\n--- agent log:\n%s",
						source, st.Line, st.Command, got, strings.Join(st.Want, "\n"), a.stderr.String())
				}
				time.Sleep(100 * time.Millisecond) // poll interval while output settles
			}
		}
	}
}

func runStep(t *testing.T, dir string, env []string, command string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("$ %s: timed out\n%s", command, out)
	}
	_ = err // the exit code is part of what the page shows through its output
	return string(out)
}

// TestBuiltSite builds the site with the real binary, checks every link
// and anchor in the written files, then opens the pages in a headless
// browser that refuses every network request: no page may ask for one.
func TestBuiltSite(t *testing.T) {
	bin := binDir
	out := filepath.Join(t.TempDir(), "public")
	cmd := exec.Command(filepath.Join(bin, "planetary"), "docs", "build", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docs build: %v\n%s", err, b)
	}
	site := &build.Site{Files: map[string][]byte{}}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		site.Files[e.Name()] = b
	}
	for _, sec := range build.Nav() {
		for _, p := range sec.Pages {
			if _, ok := site.Files[build.FileName(p.Slug)]; !ok {
				t.Errorf("page %s not written", p.Slug)
			}
		}
	}
	if errs := site.CheckLinks(); len(errs) > 0 {
		for _, e := range errs {
			t.Error(e)
		}
	}

	b := browsertest.New(t, browsertest.Config{})
	b.Do(
		chromedp.Navigate("file://"+filepath.Join(out, "getting-started.html")),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar li.current a[href="getting-started.html"]`)),
		chromedp.WaitVisible(chromedp.CSS(`pre.lang-hcl span.k`)),
	)
	bg := browsertest.Eval[string](b, `getComputedStyle(document.querySelector('pre')).backgroundColor`)
	if bg == "" || bg == "rgba(0, 0, 0, 0)" {
		t.Errorf("stylesheet not applied: pre background %q", bg)
	}
	b.Screenshot("getting-started")
	for _, name := range site.Names() {
		if strings.HasSuffix(name, ".html") {
			b.Do(chromedp.Navigate("file://"+filepath.Join(out, name)), chromedp.WaitReady(chromedp.CSS(`article.doc`)))
		}
	}
	b.RequireNoBlocked()
	for _, u := range b.Requests() {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Errorf("page requested %s", u)
		}
	}
	if n := len(b.Requests()); n < len(site.Files) {
		t.Errorf("only %d requests recorded for %d files", n, len(site.Files))
	}
}
