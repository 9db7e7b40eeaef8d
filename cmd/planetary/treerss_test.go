package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTreeRSS checks the /proc/<pid>/stat reading against /proc's status
// file and that a child's pages are counted under its parent.
func TestTreeRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	ppid, pages, ok := readStat(strconv.Itoa(os.Getpid()), make([]byte, 1024))
	if !ok || ppid != os.Getppid() || pages <= 0 {
		t.Fatalf("readStat(self) = %d, %d, %v; want ppid %d and pages > 0", ppid, pages, ok, os.Getppid())
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	cpid := strconv.Itoa(child.Process.Pid)
	// Wait until the child sleeps in its own image with a steady RSS.
	var childKB int64
	for range 200 {
		time.Sleep(10 * time.Millisecond)
		b, err := os.ReadFile("/proc/" + cpid + "/stat")
		if err != nil || !strings.Contains(string(b), "(sleep) S ") {
			continue
		}
		_, p1, ok1 := readStat(cpid, make([]byte, 1024))
		time.Sleep(20 * time.Millisecond)
		_, p2, ok2 := readStat(cpid, make([]byte, 1024))
		if ok1 && ok2 && p1 > 0 && p1 == p2 {
			childKB = p2 * int64(os.Getpagesize()/1024)
			break
		}
	}
	if childKB == 0 {
		t.Fatal("child never showed resident pages")
	}
	if got := treeRSS(child.Process.Pid); got != childKB {
		t.Fatalf("treeRSS(child) = %d KiB, want its own %d KiB", got, childKB)
	}
	if got := treeRSS(os.Getpid()); got <= childKB {
		t.Fatalf("treeRSS(self) = %d KiB, want more than the child's %d KiB", got, childKB)
	}
}

func BenchmarkTreeRSS(b *testing.B) {
	for b.Loop() {
		treeRSS(os.Getpid())
	}
}
