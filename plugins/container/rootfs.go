package container

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultBusyboxApplets returns the applet links BusyboxRootfs creates in /bin
// when none are given.
func DefaultBusyboxApplets() []string {
	return []string{"sh", "echo", "sleep", "cat", "ls", "env", "true", "false", "printf", "yes", "head", "wc", "kill"}
}

// BusyboxRootfs writes a minimal root filesystem tar to w: /bin/busybox copied
// from busyboxPath (a statically linked busybox, e.g. /bin/busybox from
// Debian's busybox-static), a /bin/<applet> symlink per applet, and empty
// /tmp, /etc, /proc, /dev, /sys and /root directories. The tar can be imported
// with ImportRootfs.
func BusyboxRootfs(w io.Writer, busyboxPath string, applets []string) error {
	if len(applets) == 0 {
		applets = DefaultBusyboxApplets()
	}
	f, err := os.Open(busyboxPath)
	if err != nil {
		return fmt.Errorf("container: busybox: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("container: busybox: %w", err)
	}
	mtime := time.Unix(0, 0)
	tw := tar.NewWriter(w)
	for _, d := range []string{"bin", "dev", "etc", "proc", "root", "sys", "tmp"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: mtime}); err != nil {
			return fmt.Errorf("container: rootfs tar: %w", err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: st.Size(), ModTime: mtime}); err != nil {
		return fmt.Errorf("container: rootfs tar: %w", err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("container: rootfs tar: %w", err)
	}
	for _, a := range applets {
		if a == "" || strings.Contains(a, "/") || a == "busybox" {
			return fmt.Errorf("container: bad applet name %q", a)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return fmt.Errorf("container: rootfs tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("container: rootfs tar: %w", err)
	}
	return nil
}

// WriteBusyboxRootfs writes BusyboxRootfs(busyboxPath, applets) to tarPath.
func WriteBusyboxRootfs(tarPath, busyboxPath string, applets []string) error {
	f, err := os.Create(tarPath)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	if err := BusyboxRootfs(f, busyboxPath, applets); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("container: %w", err)
	}
	return nil
}

// ImportRootfs imports a root filesystem tar as image ref with
// `<runtime> import tarPath ref`. runtime is "podman", "docker" or a path to
// either binary.
func ImportRootfs(ctx context.Context, runtime, tarPath, ref string) error {
	bin, err := exec.LookPath(runtime)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRuntimeMissing, runtime, err)
	}
	if ref == "" {
		return fmt.Errorf("container: import: image reference is required")
	}
	out, err := exec.CommandContext(ctx, bin, "import", tarPath, ref).CombinedOutput()
	if err != nil {
		return fmt.Errorf("container: %s import %s %s: %w: %s", runtime, tarPath, ref, err, strings.TrimSpace(string(out)))
	}
	return nil
}
