// Package weaviatetest runs a real Weaviate server (the weaviate-server
// binary, built by `make weaviate`) on loopback for tests and benchmarks:
// API-key authentication, no modules, no telemetry, nothing that calls out,
// free ports for every listener so that parallel runs do not collide.
package weaviatetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Version is the Weaviate server release the project tests against.
const Version = "v1.35.2"

// BinaryEnv names the environment variable with the server binary's path.
const BinaryEnv = "LIKENESS_WEAVIATE_BIN"

// Binary returns the weaviate-server binary: $LIKENESS_WEAVIATE_BIN, else
// ~/.cache/likeness/bin/weaviate-server (where `make weaviate` installs it).
// It fails when neither exists.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(home, ".cache", "likeness", "bin", "weaviate-server")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no weaviate-server at %s (run `make weaviate`, or set %s): %w", p, BinaryEnv, err)
	}
	return p, nil
}

// Options configure Start.
type Options struct {
	Binary  string    // default: Binary()
	DataDir string    // required: the server's persistence directory
	APIKey  string    // default: a random key
	Log     io.Writer // the server's output; nil discards it
	Env     []string  // extra environment (KEY=VALUE)
}

// Server is a running weaviate-server process.
type Server struct {
	URL     string // http://127.0.0.1:PORT
	APIKey  string
	DataDir string

	opts  Options
	ports []int // rest, grpc, profiling, gossip (data = +1), raft (internal RPC = +1)
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	once  sync.Once
}

// Start starts a server and waits until it is ready (about 3 s).
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		b, err := Binary()
		if err != nil {
			return nil, err
		}
		opts.Binary = b
	}
	if opts.DataDir == "" {
		return nil, errors.New("weaviatetest: DataDir is required")
	}
	if opts.APIKey == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		opts.APIKey = "wv-" + hex.EncodeToString(b)
	}
	s := &Server{APIKey: opts.APIKey, DataDir: opts.DataDir, opts: opts}
	return s, s.start(ctx)
}

func (s *Server) start(ctx context.Context) error {
	if s.ports == nil {
		ports, err := freePorts(3)
		if err != nil {
			return err
		}
		// Weaviate expects the data port next to the gossip port and the
		// raft internal RPC port next to the raft port.
		pairs, err := freePairs(2)
		if err != nil {
			return err
		}
		s.ports = append(ports, pairs...)
	}
	rest, grpc, profiling := s.ports[0], s.ports[1], s.ports[2]
	gossip, data, raft, raftRPC := s.ports[3], s.ports[3]+1, s.ports[4], s.ports[4]+1
	s.URL = "http://127.0.0.1:" + strconv.Itoa(rest)
	cmd := exec.Command(s.opts.Binary, "--host", "127.0.0.1", "--port", strconv.Itoa(rest), "--scheme", "http")
	cmd.Env = append(os.Environ(),
		"PERSISTENCE_DATA_PATH="+s.opts.DataDir,
		"AUTHENTICATION_APIKEY_ENABLED=true",
		"AUTHENTICATION_APIKEY_ALLOWED_KEYS="+s.opts.APIKey,
		"AUTHENTICATION_APIKEY_USERS=likeness",
		"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false",
		"DEFAULT_VECTORIZER_MODULE=none",
		"ENABLE_MODULES=",
		"API_BASED_MODULES_DISABLED=true",
		"AUTOSCHEMA_ENABLED=false",
		"DISABLE_TELEMETRY=true",
		"CLUSTER_IN_LOCALHOST=true", // else it probes a cloud metadata address at start
		"CLUSTER_HOSTNAME=node1",
		"CLUSTER_BIND_ADDR=127.0.0.1",
		"CLUSTER_ADVERTISE_ADDR=127.0.0.1",
		"CLUSTER_GOSSIP_BIND_PORT="+strconv.Itoa(gossip),
		"CLUSTER_DATA_BIND_PORT="+strconv.Itoa(data),
		"RAFT_PORT="+strconv.Itoa(raft),
		"RAFT_INTERNAL_RPC_PORT="+strconv.Itoa(raftRPC),
		"RAFT_BOOTSTRAP_EXPECT=1",
		"RAFT_TIMEOUTS_MULTIPLIER=1",
		"GRPC_PORT="+strconv.Itoa(grpc),
		"GO_PROFILING_PORT="+strconv.Itoa(profiling),
		"LOG_LEVEL=warning",
		"GOMEMLIMIT=2GiB",
	)
	cmd.Env = append(cmd.Env, s.opts.Env...)
	cmd.Stdout, cmd.Stderr = s.opts.Log, s.opts.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("weaviatetest: start %s: %w", s.opts.Binary, err)
	}
	s.cmd, s.done, s.once = cmd, make(chan struct{}), sync.Once{}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s.waitReady(ctx)
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/.well-known/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("weaviatetest: the server exited: %v", s.err)
		case <-ctx.Done():
			_ = s.Close()
			return fmt.Errorf("weaviatetest: the server was not ready in time: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the server (SIGTERM, then SIGKILL after 20 s) and waits for it.
func (s *Server) Close() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
	return nil
}

// PID returns the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the server gracefully; Restart starts it again.
func (s *Server) Stop() { _ = s.Close() }

// Kill stops the server abruptly, as a crash would.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	})
}

// Restart stops the server gracefully and starts it again on the same data
// directory and ports.
func (s *Server) Restart(ctx context.Context) error {
	_ = s.Close()
	return s.start(ctx)
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// freePairs returns n ports p, each with p+1, that were free a moment ago.
func freePairs(n int) ([]int, error) {
	var out []int
	for tries := 0; len(out) < n && tries < 100; tries++ {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if err == nil {
			l2.Close()
			if !slices.Contains(out, p) && !slices.Contains(out, p+1) && !slices.Contains(out, p-1) {
				out = append(out, p)
			}
		}
		l1.Close()
	}
	if len(out) < n {
		return nil, errors.New("weaviatetest: no free port pairs")
	}
	return out, nil
}

// TB is the part of testing.TB that New uses.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Logf(format string, args ...any)
}

// New starts a server for a test and stops it when the test ends. Without a
// weaviate-server binary the test is skipped with the reason, except under
// CI (CI=true), where that is a failure.
func New(tb TB) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("weaviate-server is required under CI: %v", err)
		}
		tb.Skipf("SKIP: Weaviate tests need the weaviate-server binary: %v", err)
	}
	logf, err := os.CreateTemp(tb.TempDir(), "weaviate-*.log")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Binary: bin, DataDir: filepath.Join(tb.TempDir(), "weaviate"), Log: logf})
	if err != nil {
		out, _ := os.ReadFile(logf.Name())
		tb.Fatalf("start weaviate: %v\n%s", err, tail(out, 4000))
	}
	tb.Cleanup(func() {
		_ = s.Close()
		logf.Close()
	})
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
