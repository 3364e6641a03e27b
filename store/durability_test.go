package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
	bolt "go.etcd.io/bbolt"
)

const helperEnv = "MERIDIAN_STORE_HELPER_DB"

// TestHelperWriter is the child of TestKill9KeepsAcknowledgedRecords: four writers Record
// observations n = 1, 2, … (target "t<n>", RTT n) and print n once Record has returned nil.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("child process of TestKill9KeepsAcknowledgedRecords")
	}
	s, err := Open(path, Options{BatchDelay: time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Go(func() {
			for n := w + 1; ; n += writers {
				o := health.Observation{Target: "t" + strconv.Itoa(n), Prober: "p", Up: true, RTT: time.Duration(n), At: time.Now()}
				if err := s.Record(context.Background(), o); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, n) // one write(2) per line
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := t.TempDir() + "/state.db"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue // not an acknowledgement
		}
		acked = append(acked, n)
		if len(acked) == 300 {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-stream
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait() // lines already in the pipe were read above: they were acknowledged too
	if len(acked) < 300 {
		t.Fatalf("child acknowledged %d records, then exited: %v", len(acked), err)
	}

	s := open(t, path, Options{})
	v := s.View()
	for _, n := range acked {
		ts := v.Target("t" + strconv.Itoa(n))
		if len(ts.Reports) != 1 || ts.Reports[0].RTT != time.Duration(n) {
			t.Errorf("acknowledged record %d: reports = %+v, want one with RTT %d", n, ts.Reports, n)
		}
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("consistency check: %v", err)
	}
	t.Logf("%d acknowledged before and after SIGKILL, %d targets on disk (max acked %d)", len(acked), len(v.Targets()), slices.Max(acked))
}
