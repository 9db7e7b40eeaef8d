package mission

import (
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DefaultAgentConfig is the agent config of an empty agent block.
func DefaultAgentConfig() *AgentConfig {
	var diags hcl.Diagnostics
	by := map[string]hcl.Blocks{}
	a := decodeAgent(by, &diags)
	if diags.HasErrors() {
		panic(fmt.Sprintf("mission: defaults do not decode: %s", diags.Error()))
	}
	return a
}

func decodeAgent(by map[string]hcl.Blocks, diags *hcl.Diagnostics) *AgentConfig {
	docs := agentFileDocs()
	ad, pd := &docs[0], &docs[1]
	var r *reader
	var blocks map[string]hcl.Blocks
	if bs := by["agent"]; len(bs) > 0 {
		r, blocks = content(ad, bs[0].Body, bs[0].DefRange, diags)
	} else {
		r, blocks = newReader(ad.Attributes, nil, hcl.Range{}, diags), map[string]hcl.Blocks{}
	}
	a := &AgentConfig{
		Name:         r.NonEmpty("name"),
		DataDir:      r.NonEmpty("data_dir"),
		LogLevel:     r.String("log_level"),
		LogJSON:      r.Bool("log_json"),
		HTTPAddr:     r.NonEmpty("http_addr"),
		AllowedRoots: r.Strings("allowed_roots"),
	}
	if !contains([]string{"trace", "debug", "info", "warn", "error"}, a.LogLevel) {
		r.errorf(r.Range("log_level"), "Invalid log level", "log_level must be one of trace, debug, info, warn, error; got %q.", a.LogLevel)
	}
	sub := func(name string) *reader {
		d := ad.block(name)
		if bs := blocks[name]; len(bs) > 0 {
			sr, _ := content(d, bs[0].Body, bs[0].DefRange, diags)
			return sr
		}
		return newReader(d.Attributes, nil, hcl.Range{}, diags)
	}
	s := sub("server")
	a.Server = ServerConfig{Enabled: s.Bool("enabled"), Bind: s.NonEmpty("bind"), BootstrapExpect: s.NonNegInt("bootstrap_expect"), Join: s.Strings("join"),
		SnapshotThreshold: s.Int("snapshot_threshold"), TrailingLogs: s.Int("trailing_logs"), SnapshotIntervalMs: s.Duration("snapshot_interval"),
		Region: s.String("region")}
	for _, kv := range []struct {
		k string
		v int64
	}{{"snapshot_threshold", a.Server.SnapshotThreshold}, {"trailing_logs", a.Server.TrailingLogs}} {
		if k, v := kv.k, kv.v; s.Has(k) && v <= 0 {
			s.errorf(s.Range(k), "Invalid value", "%s must be a positive number of raft log entries, got %d.", k, v)
		}
	}
	if s.Has("snapshot_interval") && a.Server.SnapshotIntervalMs <= 0 {
		s.errorf(s.Range("snapshot_interval"), "Invalid duration", "snapshot_interval must be positive.")
	}
	e := sub("event_retention")
	a.EventRetention = EventRetentionConfig{MaxAgeMs: e.Duration("max_age"), MaxBytes: e.Int("max_bytes"),
		ArchiveDir: e.String("archive_dir"), SegmentBytes: e.Int("segment_bytes")}
	if a.EventRetention.MaxBytes < 0 {
		e.errorf(e.Range("max_bytes"), "Negative value", "max_bytes must not be negative, got %d.", a.EventRetention.MaxBytes)
		a.EventRetention.MaxBytes = 0
	}
	if e.Has("segment_bytes") && a.EventRetention.SegmentBytes <= 0 {
		e.errorf(e.Range("segment_bytes"), "Invalid value", "segment_bytes must be a positive number of bytes.")
	}
	if er := a.EventRetention; er.ArchiveDir != "" {
		switch {
		case er.MaxAgeMs <= 0 && er.MaxBytes <= 0:
			e.errorf(e.Range("archive_dir"), "Archive without a limit", "archive_dir archives pruned segments, but neither max_age nor max_bytes is set, so nothing is ever pruned.")
		case !a.Allows(er.ArchiveDir):
			e.errorf(e.Range("archive_dir"), "Path outside allowed roots", "The event archive directory %q is not under any of the agent's allowed_roots (%s).", er.ArchiveDir, strings.Join(a.AllowedRoots, ", "))
		}
	}
	c := sub("client")
	a.Client = ClientConfig{Enabled: c.Bool("enabled"), Servers: c.Strings("servers"), Nodes: c.Strings("nodes"), HeartbeatIntervalMs: c.Duration("heartbeat_interval")}
	if len(a.Client.Servers) == 0 {
		a.Client.Servers = []string{a.HTTPAddr}
	}
	if c.Has("heartbeat_interval") && a.Client.HeartbeatIntervalMs <= 0 {
		c.errorf(c.Range("heartbeat_interval"), "Invalid duration", "heartbeat_interval must be positive.")
	}
	rngs := c.StringRanges("nodes", len(a.Client.Nodes))
	for i, pat := range a.Client.Nodes {
		if _, err := path.Match(pat, ""); err != nil {
			c.errorf(rngs[i], "Invalid node pattern", "%q is not a valid glob pattern: %s.", pat, err)
		}
	}
	a.ACL = ACLConfig{Enabled: sub("acl").Bool("enabled")}
	t := sub("tls")
	a.TLS = TLSConfig{CAFile: t.String("ca_file"), CertFile: t.String("cert_file"), KeyFile: t.String("key_file")}
	if set := btoi(a.TLS.CAFile != "") + btoi(a.TLS.CertFile != "") + btoi(a.TLS.KeyFile != ""); set != 0 && set != 3 {
		t.errorf(t.defRange, "Incomplete TLS configuration", "Set all of ca_file, cert_file and key_file, or none.")
	}
	if !a.Server.Enabled && !a.Client.Enabled {
		r.errorf(r.defRange, "No role enabled", "Enable the server role, the client role or both.")
	}

	a.Plugins = []PluginSpec{}
	seen := map[string]hcl.Range{}
	for _, b := range by["plugin"] {
		name := checkName(b, "plugin", diags)
		pr, pb := content(pd, b.Body, b.DefRange, diags)
		ps := PluginSpec{Name: name, Path: pr.String("path"), SHA256: pr.String("sha256"), Config: map[string]any{},
			ConfigSource: ConfigSource{Block: b.DefRange, Attrs: map[string]hcl.Range{}}}
		ps.Builtin = ps.Path == ""
		switch {
		case ps.Builtin && ps.SHA256 != "":
			pr.errorf(pr.Range("sha256"), "Unexpected sha256", "Plugin %q is built in (no path); sha256 pins external executables only.", name)
		case !ps.Builtin && ps.SHA256 == "":
			pr.errorf(pr.Range("path"), "Missing sha256", "External plugin %q must be pinned: add sha256 = \"<hex sha-256 of %s>\".", name, ps.Path)
		case !ps.Builtin:
			if h, err := hex.DecodeString(ps.SHA256); err != nil || len(h) != 32 {
				pr.errorf(pr.Range("sha256"), "Invalid sha256", "sha256 must be 64 hex digits, got %q.", ps.SHA256)
			}
		}
		if cb := pb["config"]; len(cb) > 0 {
			ps.Config, ps.ConfigSource = configValues(cb[0], diags)
		}
		if prev, dup := seen[name]; dup {
			pr.errorf(labelRange(b), "Duplicate plugin", "The plugin %q is already declared at %s.", name, prev)
			continue
		}
		seen[name] = labelRange(b)
		a.Plugins = append(a.Plugins, ps)
	}
	return a
}

// Allows reports whether p (a checkpoint path or report directory) lies
// within one of the allowed roots. The check is lexical: both sides are
// cleaned, relative paths are taken from the agent's working directory, and
// ".." cannot climb out of a root. Symlinks are the host's business.
func (a *AgentConfig) Allows(p string) bool {
	abs := func(s string) string {
		if filepath.IsAbs(s) {
			return filepath.Clean(s)
		}
		return filepath.Join(string(filepath.Separator)+"cwd", s)
	}
	target := abs(p)
	for _, root := range a.AllowedRoots {
		r := abs(root)
		if rel, err := filepath.Rel(r, target); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
