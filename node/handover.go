package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Zero-downtime replace (gdnsd's `gdnsdctl replace`, nginx's binary upgrade): the running
// process starts the binary again — a new version, if the file was replaced — with its own
// arguments and hands it every listening socket as a file descriptor: the DNS UDP sockets and
// TCP listeners, the HTTP listener and the proxy listeners. The sockets stay the same sockets,
// so nothing queued in them is lost and no connection is refused. Over a stream socket the two
// then take turns:
//
//  1. the new process parses and checks its config, and asks the old one to release the data
//     directory ("release");
//  2. the old one stops probing, closes the state store and unlocks the directory ("released"),
//     answering DNS meanwhile from its last health view;
//  3. the new one opens the store, builds everything on the inherited sockets and starts
//     serving: for a moment both processes read the same sockets ("ready PID");
//  4. the old one stops reading, lets work in flight finish (proxy requests up to their
//     drain_timeout; keep-alive clients are answered "Connection: close" and reconnect to the
//     new process) and exits.
//
// Under systemd (Type=notify, NotifyAccess=all) the new process tells the service manager its
// PID is the main one now.

// handoverEnv names, in order, the descriptors a replacement inherits from 3 on: "ctrl" (the
// stream to the old process) and then one key per socket ("udp ADDR", "tcp ADDR", "http",
// "proxy NAME"), separated by newlines.
const handoverEnv = "MERIDIAN_HANDOVER"

// handoverTimeout bounds each wait of the exchange.
const handoverTimeout = 60 * time.Second

// Handover is a replacement's side: the sockets it inherited and the line to the old process.
type Handover struct {
	ctrl  *os.File
	rd    *bufio.Reader
	mu    sync.Mutex
	files map[string][]*os.File
}

// HandoverFromEnv is the handover this process was started for by `meridian replace`, or nil
// when it was started as usual. It unsets the variable, so processes it starts do not see it.
func HandoverFromEnv() (*Handover, error) {
	v, ok := os.LookupEnv(handoverEnv)
	if !ok {
		return nil, nil
	}
	_ = os.Unsetenv(handoverEnv)
	keys := strings.Split(v, "\n")
	if len(keys) == 0 || keys[0] != "ctrl" {
		return nil, fmt.Errorf("%s=%q: want \"ctrl\" first", handoverEnv, v)
	}
	h := &Handover{files: map[string][]*os.File{}}
	for i, k := range keys {
		f := os.NewFile(uintptr(3+i), k)
		if f == nil {
			return nil, fmt.Errorf("%s: descriptor %d (%s) is not open", handoverEnv, 3+i, k)
		}
		syscall.CloseOnExec(3 + i)
		if i == 0 {
			h.ctrl, h.rd = f, bufio.NewReader(f)
			continue
		}
		h.files[k] = append(h.files[k], f)
	}
	return h, nil
}

// take returns an inherited socket for key, each once; nil when none is left.
func (h *Handover) take(key string) *os.File {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fs := h.files[key]
	if len(fs) == 0 {
		return nil
	}
	h.files[key] = fs[1:]
	return fs[0]
}

// release asks the old process to give up the data directory and waits until it has.
func (h *Handover) release() error {
	if err := h.say("release"); err != nil {
		return err
	}
	line, err := h.hear()
	if err != nil {
		return err
	}
	if line != "released" {
		return fmt.Errorf("replace: the old process answered %q to release", line)
	}
	return nil
}

// ready tells the old process this one serves, and closes the sockets the config no longer uses.
func (h *Handover) ready() error {
	h.mu.Lock()
	for _, fs := range h.files {
		for _, f := range fs {
			_ = f.Close()
		}
	}
	h.files = nil
	h.mu.Unlock()
	err := h.say("ready " + strconv.Itoa(os.Getpid()))
	_ = h.ctrl.Close()
	return err
}

func (h *Handover) say(line string) error {
	_ = h.ctrl.SetWriteDeadline(time.Now().Add(handoverTimeout))
	if _, err := fmt.Fprintln(h.ctrl, line); err != nil {
		return fmt.Errorf("replace: tell the old process %q: %w", line, err)
	}
	return nil
}

func (h *Handover) hear() (string, error) {
	_ = h.ctrl.SetReadDeadline(time.Now().Add(handoverTimeout))
	line, err := h.rd.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("replace: the old process: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// ReplaceWith says how this process starts its replacement: the binary (os.Executable at
// start: a file replaced since then is the new version) and its arguments, and where the new
// process writes (this one's own standard output and error).
type ReplaceWith struct {
	Exe            string
	Args           []string
	Stdout, Stderr *os.File
}

// ErrReplacing: a replace is already under way.
var ErrReplacing = errors.New("a replace is already in progress")

// Replace starts the replacement with this process's sockets, hands over to it as the package
// comment above describes and, once it serves, stops this node (Run returns). It returns the
// new process's PID. If the new process fails before it is ready, this one keeps serving — with
// health frozen if it failed after the store was released (then restart the service).
func (n *Node) Replace(ctx context.Context) (int, error) {
	if n.o.Replace == nil || n.dns == nil {
		return 0, errors.New("this node cannot be replaced (meridian serve only)")
	}
	if !n.replacing.CompareAndSwap(false, true) {
		return 0, ErrReplacing
	}
	keys, files, err := n.listenerFiles()
	if err != nil {
		n.replacing.Store(false)
		return 0, err
	}
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		n.replacing.Store(false)
		return 0, fmt.Errorf("replace: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "replace"), os.NewFile(uintptr(pair[1]), "replace")
	defer ours.Close()
	cmd := exec.Command(n.o.Replace.Exe, n.o.Replace.Args...)
	cmd.Stdout, cmd.Stderr = n.o.Replace.Stdout, n.o.Replace.Stderr
	cmd.ExtraFiles = append([]*os.File{theirs}, files...)
	cmd.Env = append(os.Environ(), handoverEnv+"="+strings.Join(append([]string{"ctrl"}, keys...), "\n"))
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		n.replacing.Store(false)
		return 0, fmt.Errorf("replace: start %s: %w", n.o.Replace.Exe, err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reaped if it dies while we still run
	n.log.Info("replace: started the new process", "pid", pid, "exe", n.o.Replace.Exe, "sockets", len(files))
	rd := bufio.NewReader(ours)
	hear := func() (string, error) {
		_ = ours.SetReadDeadline(time.Now().Add(handoverTimeout))
		line, err := rd.ReadString('\n')
		return strings.TrimSpace(line), err
	}
	fail := func(stage string, err error) (int, error) {
		_ = cmd.Process.Kill()
		n.replacing.Store(false)
		n.log.Error("replace failed: the new process did not take over", "pid", pid, "stage", stage, "err", err)
		return 0, fmt.Errorf("replace: the new process (pid %d) failed %s: %v (see its log)", pid, stage, err)
	}
	line, err := hear()
	if err != nil || line != "release" {
		return fail("before asking for the data directory", errors.Join(err, unexpected(line, "release")))
	}
	n.releaseStore()
	_ = ours.SetWriteDeadline(time.Now().Add(handoverTimeout))
	if _, err := fmt.Fprintln(ours, "released"); err != nil {
		n.log.Error("replace: the store is released but the new process is gone: health is frozen until meridian restarts", "err", err)
		return fail("after the data directory was released", err)
	}
	line, err = hear()
	if err != nil || !strings.HasPrefix(line, "ready ") {
		n.log.Error("replace: the store is released but the new process did not start: health is frozen until meridian restarts")
		return fail("after the data directory was released", errors.Join(err, unexpected(line, "ready PID")))
	}
	n.log.Info("replace: the new process serves; this one stops", "pid", pid)
	n.stopRun()
	return pid, nil
}

// unexpected is the error for a line the new process sent instead of want (nil for none: the
// read error says what happened).
func unexpected(got, want string) error {
	if got == "" {
		return nil
	}
	return fmt.Errorf("said %q, want %q", got, want)
}

// listenerFiles duplicates every listening socket of the node, with its handover key.
func (n *Node) listenerFiles() ([]string, []*os.File, error) {
	keys, files, err := n.dns.Files()
	if err != nil {
		return nil, nil, err
	}
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	if n.web != nil {
		f, err := n.web.File()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		keys, files = append(keys, "http"), append(files, f)
	}
	if n.proxies != nil {
		pk, pf, err := n.proxies.Files()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		keys, files = append(keys, pk...), append(files, pf...)
	}
	for i, f := range files {
		if files[i], err = keepMode(f); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return keys, files, nil
}

// keepMode returns f as a File whose Fd leaves the socket's blocking mode alone, and closes f.
// A listener's File (net.TCPListener.File) puts the socket in blocking mode the moment
// exec.Cmd takes its Fd, and the mode belongs to the socket, not the descriptor: this
// process's accept loops, still serving, would then block in accept(2) and Close would wait
// for a connection that may never come (a CI run saw the old process stay 15 s after a
// replace). A File made by os.NewFile from a non-blocking descriptor keeps it non-blocking.
func keepMode(f *os.File) (*os.File, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("replace: %s: %w", f.Name(), err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return nil, fmt.Errorf("replace: duplicate %s: %w", f.Name(), errors.Join(err, derr))
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// releaseStore stops everything that writes the state store, closes it and unlocks the data
// directory, for the replacement to take them. DNS keeps answering from the last view.
func (n *Node) releaseStore() {
	if n.stopSched != nil {
		n.stopSched()
	}
	if n.st != nil {
		if err := n.st.Close(); err != nil {
			n.log.Warn("replace: close the store", "err", err)
		}
	}
	if n.unlock != nil {
		_ = n.unlock()
	}
	n.log.Info("replace: released the data directory")
}

// handoverListen binds the web listener from the inherited socket when there is one.
func (n *Node) handoverHTTP() (net.Listener, error) {
	f := n.o.Handover.take("http")
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	return net.FileListener(f)
}

// sdNotify tells systemd (Type=notify) state, when it runs us: "READY=1", "MAINPID=N".
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
