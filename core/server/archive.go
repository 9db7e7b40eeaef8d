package server

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// ArchiveVersion is the format version of exported snapshot archives.
//
// An archive is a tar stream of three files, in this order:
//
//	meta.json   SnapshotInfo (without ArchiveSHA256)
//	state.bin   the FSM snapshot stream exactly as raft stores it
//	SHA256SUMS  "<hex>  <name>" lines for meta.json and state.bin
const ArchiveVersion = 1

const (
	archMeta  = "meta.json"
	archState = "state.bin"
	archSums  = "SHA256SUMS"
)

// SnapshotInfo describes an exported snapshot archive.
type SnapshotInfo struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Index   uint64 `json:"index"`
	Term    uint64 `json:"term"`
	// Size and SHA256 are those of the FSM snapshot stream (state.bin).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// RaftVersion is raft's SnapshotVersion of the stream's metadata.
	RaftVersion raft.SnapshotVersion `json:"raft_version"`
	NodeID      string               `json:"node_id"`
	CreatedAt   int64                `json:"created_at"`
	// ArchiveSHA256 is the sha256 of the whole archive (what `sha256sum`
	// prints for the file); filled by SnapshotSave and InspectArchive.
	ArchiveSHA256 string `json:"archive_sha256,omitempty"`
	// Path is where Checkpoint exported the archive.
	Path string `json:"path,omitempty"`
}

// latestSnapshot takes a raft snapshot, or opens the newest existing one
// when nothing was applied since it.
func (s *Server) latestSnapshot(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	f := s.raft.Snapshot()
	err := s.waitFuture(ctx, f)
	if err == nil {
		return f.Open()
	}
	if !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil, nil, fmt.Errorf("server: take snapshot: %w", mapRaftErr(err))
	}
	list, err := s.snapshots.List()
	if err != nil {
		return nil, nil, fmt.Errorf("server: list snapshots: %w", err)
	}
	if len(list) == 0 {
		return nil, nil, fmt.Errorf("server: no snapshot available: %w", raft.ErrNothingNewToSnapshot)
	}
	meta, rc, err := s.snapshots.Open(list[0].ID)
	if err != nil {
		return nil, nil, fmt.Errorf("server: open snapshot: %w", err)
	}
	return meta, rc, nil
}

// SnapshotSave takes a raft snapshot (or reuses the newest one when nothing
// changed since) and writes it to w as a portable, checksummed archive.
func (s *Server) SnapshotSave(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	meta, rc, err := s.latestSnapshot(ctx)
	if err != nil {
		return SnapshotInfo{}, err
	}
	defer rc.Close()
	info := SnapshotInfo{
		Version: ArchiveVersion, ID: meta.ID, Index: meta.Index, Term: meta.Term, Size: meta.Size,
		RaftVersion: meta.Version, NodeID: s.cfg.NodeID, CreatedAt: s.Now(),
	}
	return writeArchive(w, info, rc, s.cfg.DataDir)
}

func writeArchive(w io.Writer, info SnapshotInfo, state io.Reader, spoolDir string) (SnapshotInfo, error) {
	whole := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(w, whole))
	mtime := time.Unix(0, info.CreatedAt)
	add := func(name string, size int64, body io.Reader, h hash.Hash) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("server: archive %s: %w", name, err)
		}
		n, err := io.Copy(io.MultiWriter(tw, h), body)
		if err != nil {
			return fmt.Errorf("server: archive %s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("server: archive %s: wrote %d of %d bytes", name, n, size)
		}
		return nil
	}
	// meta.json (first in the archive) carries the state's sha256, and
	// raft's snapshot reader is one-shot: spool the state once to hash it.
	stateHash := sha256.New()
	spool, err := os.CreateTemp(spoolDir, ".export-*")
	if err != nil {
		return info, fmt.Errorf("server: spool snapshot: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	n, err := io.Copy(io.MultiWriter(spool, stateHash), state)
	if err != nil {
		return info, fmt.Errorf("server: spool snapshot: %w", err)
	}
	if n != info.Size {
		return info, fmt.Errorf("server: snapshot stream is %d bytes, meta says %d", n, info.Size)
	}
	info.SHA256 = hex.EncodeToString(stateHash.Sum(nil))
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return info, fmt.Errorf("server: spool snapshot: %w", err)
	}
	metaJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return info, fmt.Errorf("server: encode archive meta: %w", err)
	}
	metaHash := sha256.New()
	if err := add(archMeta, int64(len(metaJSON)), strings.NewReader(string(metaJSON)), metaHash); err != nil {
		return info, err
	}
	if err := add(archState, info.Size, bufio.NewReaderSize(spool, 1<<20), sha256.New()); err != nil {
		return info, err
	}
	sums := fmt.Sprintf("%x  %s\n%s  %s\n", metaHash.Sum(nil), archMeta, info.SHA256, archState)
	if err := add(archSums, int64(len(sums)), strings.NewReader(sums), sha256.New()); err != nil {
		return info, err
	}
	if err := tw.Close(); err != nil {
		return info, fmt.Errorf("server: archive close: %w", err)
	}
	info.ArchiveSHA256 = hex.EncodeToString(whole.Sum(nil))
	return info, nil
}

// readArchive parses and verifies an archive; state.bin is spooled to a temp
// file in dir (the caller removes it). With dir empty the state is hashed and
// discarded.
func readArchive(r io.Reader, dir string) (SnapshotInfo, *os.File, error) {
	var info SnapshotInfo
	whole := sha256.New()
	tr := tar.NewReader(io.TeeReader(r, whole))
	var (
		metaJSON []byte
		sums     = map[string]string{}
		got      = map[string]string{}
		spool    *os.File
		seen     []string
	)
	fail := func(format string, args ...any) (SnapshotInfo, *os.File, error) {
		if spool != nil {
			spool.Close()
			os.Remove(spool.Name())
		}
		return info, nil, fmt.Errorf("%w: "+format, append([]any{ErrBadArchive}, args...)...)
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("%v", err)
		}
		h := sha256.New()
		switch hdr.Name {
		case archMeta:
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return fail("read %s: %v", archMeta, err)
			}
			h.Write(b)
			metaJSON = b
		case archState:
			var dst io.Writer = io.Discard
			if dir != "" {
				spool, err = os.CreateTemp(dir, ".restore-*")
				if err != nil {
					return info, nil, fmt.Errorf("server: spool restore: %w", err)
				}
				dst = spool
			}
			if _, err := io.Copy(io.MultiWriter(dst, h), tr); err != nil {
				return fail("read %s: %v", archState, err)
			}
		case archSums:
			b, err := io.ReadAll(io.LimitReader(tr, 1<<16))
			if err != nil {
				return fail("read %s: %v", archSums, err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				sum, name, ok := strings.Cut(line, "  ")
				if !ok {
					return fail("malformed %s line %q", archSums, line)
				}
				sums[name] = sum
			}
			continue
		default:
			return fail("unexpected file %q", hdr.Name)
		}
		seen = append(seen, hdr.Name)
		got[hdr.Name] = hex.EncodeToString(h.Sum(nil))
	}
	// Drain trailing padding so the whole-archive hash covers every byte.
	_, _ = io.Copy(io.Discard, r)
	if metaJSON == nil || got[archState] == "" || len(sums) == 0 {
		return fail("missing %s, %s or %s (have %v)", archMeta, archState, archSums, seen)
	}
	for _, name := range []string{archMeta, archState} {
		if sums[name] != got[name] {
			return fail("checksum mismatch for %s", name)
		}
	}
	if err := json.Unmarshal(metaJSON, &info); err != nil {
		return fail("decode %s: %v", archMeta, err)
	}
	if info.Version != ArchiveVersion {
		return fail("unsupported archive version %d", info.Version)
	}
	if info.SHA256 != got[archState] {
		return fail("state checksum differs from %s", archMeta)
	}
	info.ArchiveSHA256 = hex.EncodeToString(whole.Sum(nil))
	if spool != nil {
		if _, err := spool.Seek(0, io.SeekStart); err != nil {
			return fail("rewind spool: %v", err)
		}
	}
	return info, spool, nil
}

// InspectArchive verifies an archive's checksums and returns its metadata.
func (s *Server) InspectArchive(r io.Reader) (SnapshotInfo, error) {
	info, _, err := readArchive(r, "")
	return info, err
}

// InspectArchive verifies an archive without a server (offline tools).
func InspectArchive(r io.Reader) (SnapshotInfo, error) {
	info, _, err := readArchive(r, "")
	return info, err
}

// SnapshotRestore verifies an archive, then makes raft (and every follower)
// take on its state. Leader only; meant for disaster recovery and moving a
// fabric, not normal operation.
func (s *Server) SnapshotRestore(ctx context.Context, r io.Reader) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	info, spool, err := readArchive(r, s.cfg.DataDir)
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	meta := &raft.SnapshotMeta{Version: info.RaftVersion, ID: info.ID, Index: info.Index, Term: info.Term, Size: info.Size}
	timeout := s.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	if err := s.raft.Restore(meta, spool, timeout); err != nil {
		return fmt.Errorf("server: restore: %w", mapRaftErr(err))
	}
	s.logger.Info("snapshot restored", "index", info.Index, "sha256", info.SHA256)
	return nil
}

// Checkpoint takes a raft snapshot, exports it as an archive at the policy's
// checkpoint path (temp file, fsync, rename, fsync dir) and commits
// CheckpointSaved. The path must pass CheckPath.
func (s *Server) Checkpoint(ctx context.Context) (SnapshotInfo, error) {
	if !s.IsLeader() {
		return SnapshotInfo{}, ErrNotLeader
	}
	info, saved, err := s.checkpoint(ctx)
	if err != nil {
		s.stats.checkpointFails.Add(1)
		return info, err
	}
	saved.Meta = s.systemMeta("system", "checkpoint")
	if _, err := s.Apply(ctx, command.CheckpointSavedType, saved); err != nil {
		return info, fmt.Errorf("server: record checkpoint: %w", err)
	}
	return info, nil
}

// checkpoint exports the archive and returns the record to commit.
func (s *Server) checkpoint(ctx context.Context) (SnapshotInfo, *command.CheckpointSaved, error) {
	var pol state.Policy
	s.fsm.Read(func(st *state.Store) { pol = st.Policy() })
	if pol.CheckpointPath == "" {
		return SnapshotInfo{}, nil, ErrNoCheckpointPath
	}
	path, err := s.resolveAllowed(pol.CheckpointPath)
	if err != nil {
		return SnapshotInfo{}, nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("server: checkpoint dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("server: checkpoint temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	info, err := s.SnapshotSave(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, nil, fmt.Errorf("server: write checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return info, nil, fmt.Errorf("server: install checkpoint: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return info, nil, err
	}
	info.Path = path
	s.stats.checkpoints.Add(1)
	s.logger.Info("checkpoint exported", "path", path, "index", info.Index, "sha256", info.ArchiveSHA256)
	return info, &command.CheckpointSaved{Index: info.Index, Term: info.Term, Path: path, SHA256: info.ArchiveSHA256}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("server: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("server: fsync dir: %w", err)
	}
	return nil
}

// CheckPath returns nil when path (after making it absolute, cleaning ".."
// and resolving symlinks of its existing part) lies under one of
// AllowedRoots, and an error wrapping ErrPathNotAllowed otherwise. Relative
// paths and roots resolve against PathBase (the agent's data dir).
func (s *Server) CheckPath(path string) error {
	_, err := s.resolveAllowed(path)
	return err
}

func (s *Server) resolveAllowed(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: empty path", ErrPathNotAllowed)
	}
	p, err := resolvePath(s.cfg.PathBase, path)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrPathNotAllowed, path, err)
	}
	for _, root := range s.cfg.AllowedRoots {
		r, err := resolvePath(s.cfg.PathBase, root)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(r, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("%w: %q (allowed: %v)", ErrPathNotAllowed, path, s.cfg.AllowedRoots)
}

// resolvePath makes path absolute (a relative one under base, when set) and
// clean, and resolves symlinks in its longest existing prefix (the rest does
// not exist yet, so it holds none).
func resolvePath(base, path string) (string, error) {
	if base != "" && !filepath.IsAbs(path) {
		path = filepath.Join(base, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	existing, rest := abs, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", err
	}
	return filepath.Join(real, rest), nil
}
