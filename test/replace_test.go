package test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReplaceWithoutDowntime: under a steady dnsperf stream and a wrk stream through the node's
// proxy, the node's binary is replaced by a new file and `meridian replace` hands the sockets to
// a process started from it. The old process exits, the new one serves, and not one query is
// lost nor one HTTP request failed.
func TestReplaceWithoutDowntime(t *testing.T) {
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		t.Fatal("dnsperf is not installed: apt-get install dnsperf (bash .ci/run does it)")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed: apt-get install wrk (bash .ci/run does it)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "meridian")
	copyFile(t, bin, exe)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("replace-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBackend(t, "127.0.0.1:0")
	p := freePorts(t)
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t, "127.0.0.1"))
	conf := fmt.Sprintf(`[server]
node = "replace"
dns = ["127.0.0.1:%d"]
http = "127.0.0.1:%d"
data_dir = "data"
token_file = "token"

[monitors.web]
kind = "http"
interval = "200ms"
timeout = "100ms"
path = "/health"

[regions.r]

[pools.web]
region = "r"
monitor = "web"
endpoints = [{ address = "127.0.0.1", probe = %q }]

[proxy.web]
listen = %q
backends = [{ address = %q }]

[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"
[zones."example.test".services.www]
pools = ["web"]
`, p.DNS, p.HTTP, b.addr, proxyAddr, b.addr)
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	old := startNodeWith(t, exe, dir, p, "serve", "-c", path)
	oldPID := old.cmd.Process.Pid
	waitUntilUp(t, fmt.Sprintf("http://127.0.0.1:%d", p.HTTP), "web/127.0.0.1")

	queries := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queries, []byte("www.example.test A\nns1.example.test A\nexample.test SOA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const secs = 8
	dp := exec.Command(dnsperf, "-s", "127.0.0.1", "-p", strconv.Itoa(p.DNS), "-d", queries, "-Q", "2000", "-l", strconv.Itoa(secs), "-t", "2", "-c", "2")
	wk := exec.Command(wrk, "-t", "1", "-c", "8", "-d", fmt.Sprintf("%ds", secs), "--timeout", "2s", "http://"+proxyAddr+"/health")
	var dpOut, wkOut syncBuffer
	dp.Stdout, dp.Stderr = &dpOut, &dpOut
	wk.Stdout, wk.Stderr = &wkOut, &wkOut
	for _, c := range []*exec.Cmd{dp, wk} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill() })
	}
	time.Sleep(2 * time.Second)

	// An upgrade: a new file where the binary was (a new inode, as install(1) does), then replace.
	copyFile(t, bin, exe+".new")
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command(bin, "replace", "-api", fmt.Sprintf("http://127.0.0.1:%d", p.HTTP), "-token-file", token).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian replace: %v\n%s\nold node's log:\n%s", err, out, old.stderr.String())
	}
	took := time.Since(start)
	m := regexp.MustCompile(`pid (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("meridian replace printed %q, want the new pid", out)
	}
	newPID, _ := strconv.Atoi(string(m[1]))
	t.Cleanup(func() { stopPID(t, newPID) }) // before the old node's cleanup, which waits for its pipes
	if newPID == oldPID {
		t.Fatalf("the new process has the old one's pid %d", oldPID)
	}
	deadline := time.Now().Add(15 * time.Second)
	for alive(oldPID) {
		if time.Now().After(deadline) {
			t.Fatalf("the old process %d still runs 15s after the replace", oldPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("replace took %v; the old process was gone %v after it", took.Round(time.Millisecond), time.Until(deadline.Add(-15*time.Second)).Abs().Round(time.Millisecond))
	if !alive(newPID) {
		t.Fatalf("the new process %d is not running", newPID)
	}
	exeNow, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", newPID))
	if exeNow != exe {
		t.Errorf("the new process runs %q, want the replaced file %s", exeNow, exe)
	}

	for _, c := range []*exec.Cmd{dp, wk} {
		if err := c.Wait(); err != nil {
			t.Errorf("%s: %v", filepath.Base(c.Path), err)
		}
	}
	dps, wks := dpOut.String(), wkOut.String()
	sent := regexp.MustCompile(`Queries sent:\s+(\d+)`).FindStringSubmatch(dps)
	lost := regexp.MustCompile(`Queries lost:\s+(\d+)`).FindStringSubmatch(dps)
	if sent == nil || lost == nil {
		t.Fatalf("dnsperf output:\n%s", dps)
	}
	if n, _ := strconv.Atoi(sent[1]); n < secs*1000 {
		t.Errorf("dnsperf sent only %s queries in %ds", sent[1], secs)
	}
	if lost[1] != "0" {
		t.Errorf("%s of %s queries lost across the replace\n%s", lost[1], sent[1], dps)
	}
	reqs := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(wks)
	if reqs == nil || reqs[1] == "0" {
		t.Fatalf("wrk made no request:\n%s", wks)
	}
	if strings.Contains(wks, "Socket errors") || strings.Contains(wks, "Non-2xx") {
		t.Errorf("HTTP requests failed across the replace:\n%s", wks)
	}
	// The new process serves: DNS answers with the old one gone.
	if got := dig(t, "127.0.0.1", p.DNS, "+short", "www.example.test", "A"); strings.TrimSpace(got) != "127.0.0.1" {
		t.Errorf("after the replace www.example.test A = %q", got)
	}
	report := fmt.Sprintf("replace under load: dnsperf %s queries, %s lost; wrk %s requests, 0 failed; replace took %v\n",
		sent[1], lost[1], reqs[1], took.Round(time.Millisecond))
	t.Log(report)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "replace.txt"), []byte(report), 0o644); err != nil {
		t.Error(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// alive: pid runs (a zombie, exited but not yet reaped, does not count).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// stopPID stops a process this test did not start itself (the replacement): TERM, then KILL.
func stopPID(t *testing.T, pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
