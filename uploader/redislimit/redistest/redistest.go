// Package redistest starts a real redis-server (Debian's package) on a free
// loopback port for tests, and can kill and restart it there, in the
// spirit of net/http/httptest. It never uses a Redis the machine runs as a
// service: each Server is the test's own, with nothing saved to disk.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a redis-server listening on a loopback port.
type Server struct {
	// Addr is host:port; URL is redis://[:password@]host:port/0.
	Addr, URL string
	password  string
	dir       string

	mu       sync.Mutex
	cmd      *exec.Cmd  // nil while killed
	waitExit chan error // gets cmd's exit
}

// Option changes how the server is started.
type Option func(*Server)

// WithPassword makes the server require a password (requirepass).
func WithPassword(pw string) Option { return func(s *Server) { s.password = pw } }

// Start starts redis-server on a free loopback port and waits until it
// answers. Close it when done. It fails, saying how to get one, when
// redis-server is not installed.
func Start(opts ...Option) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server not found: install Debian's redis-server package (apt-get install redis-server), as .ci/run does")
	}
	s := &Server{}
	for _, o := range opts {
		o(s)
	}
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	// A port that was free a moment ago may be taken by the time the
	// server binds it: try a few.
	for range 5 {
		port, perr := freePort()
		if perr != nil {
			err = perr
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.start(); err == nil {
			u := &url.URL{Scheme: "redis", Host: s.Addr, Path: "/0"}
			if s.password != "" {
				u.User = url.UserPassword("", s.password)
			}
			s.URL = u.String()
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on s.Addr and waits up to 10 seconds for it to
// answer.
func (s *Server) start() error {
	host, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}
	if s.password != "" {
		args = append(args, "--requirepass", s.password)
	}
	cmd := exec.Command("redis-server", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on %s exited: %v: %s", s.Addr, err, strings.TrimSpace(out.String()))
		default:
		}
		if s.answers() {
			s.mu.Lock()
			s.cmd, s.waitExit = cmd, exited
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server on %s did not answer within 10s: %s", s.Addr, strings.TrimSpace(out.String()))
}

// answers reports whether something answers PING on s.Addr as Redis does.
func (s *Server) answers() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	// +PONG, or -NOAUTH when a password is required: either way, Redis.
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}

// Kill stops the server at once (SIGKILL), losing everything it held, as
// a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.waitExit
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Restart starts a new, empty server on the same address after Kill.
func (s *Server) Restart() error {
	s.Kill()
	var err error
	for range 50 { // the port may take a moment to be free again
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Close kills the server and removes its directory.
func (s *Server) Close() {
	s.Kill()
	os.RemoveAll(s.dir)
}
