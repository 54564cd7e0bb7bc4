package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 named cn
// to certFile and keyFile (each replaced atomically) and returns it.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	put := func(file, typ string, b []byte) {
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	put(keyFile, "EC PRIVATE KEY", kder)
	put(certFile, "CERTIFICATE", der)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs `likeness serve` in this process with args and returns
// its public URL; the server stops when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	if st, err := os.Stat(models); err != nil || !st.IsDir() {
		t.Skip("skipped: the models directory (../../models) is absent; `make build` fetches it (likeness serve needs it)")
	}
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(ctx, append([]string{"--addr", "127.0.0.1:0", "--data", dir, "--models", models,
			"--workers", "1", "--log-level", "warn"}, args...), &out, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	re := regexp.MustCompile(`serving on (\S+) `)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("serve ended: %v\n%s", err, logs.String())
		default:
		}
	}
	t.Fatalf("serve did not start: %s", logs.String())
	return ""
}

// TestServeTLS runs the real server with a certificate: TLS 1.1 and weak
// suites are refused, TLS 1.2 and 1.3 are served with the given
// certificate and HSTS, SIGHUP swaps the certificate for new handshakes
// while an open connection goes on, and the redirect listener sends plain
// HTTP to HTTPS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, "first")
	redirect := freeAddr(t)
	base := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--http-redirect-addr", redirect)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("public URL %s, want https://127.0.0.1:PORT", base)
	}
	addr := strings.TrimPrefix(base, "https://")

	dial := func(c *tls.Config) (*tls.Conn, error) {
		c.InsecureSkipVerify = true // self-signed; the test compares the certificate itself
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, c)
	}
	peer := func(c *tls.Conn) *x509.Certificate { return c.ConnectionState().PeerCertificates[0] }

	// Refused: TLS 1.0/1.1, and TLS 1.2 with only a suite without forward secrecy or AEAD.
	for name, c := range map[string]*tls.Config{
		"TLS 1.1":        {MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
		"RSA kex":        {MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
		"CBC suite":      {MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
		"3DES suite":     {MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}},
		"plain HTTP too": nil,
	} {
		if c == nil {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
			if err == nil && resp.StatusCode == http.StatusOK {
				t.Errorf("%s: plain HTTP served on the TLS port", name)
			}
			if err == nil {
				resp.Body.Close()
			}
			continue
		}
		if conn, err := dial(c); err == nil {
			conn.Close()
			t.Errorf("%s: handshake succeeded (version %x)", name, conn.ConnectionState().Version)
		}
	}

	// Served: TLS 1.2 and 1.3 with the given certificate and HSTS on every reply.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := dial(&tls.Config{MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Fatalf("TLS %x: %v", v, err)
		}
		if !peer(conn).Equal(first) || conn.ConnectionState().Version != v {
			t.Errorf("TLS %x: served %s, version %x", v, peer(conn).Subject.CommonName, conn.ConnectionState().Version)
		}
		conn.Close()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{"/healthz", "/fio.js", "/no-such-page", "/console/signin"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
			t.Errorf("%s (%d): Strict-Transport-Security %q", path, resp.StatusCode, h)
		}
	}

	// An open keep-alive connection, then a reload.
	old, err := dial(&tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	br := bufio.NewReader(old)
	get := func() error {
		if _, err := fmt.Fprintf(old, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
			return err
		}
		old.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	// A broken pair is refused and the served certificate stays.
	if err := os.WriteFile(certFile+".bad", []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newCertReloader(certFile+".bad", keyFile); err == nil {
		t.Error("a broken certificate file loads")
	}
	second := writeCert(t, certFile, keyFile, "second")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	swapped := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !swapped; time.Sleep(20 * time.Millisecond) {
		conn, err := dial(&tls.Config{})
		if err != nil {
			t.Fatal(err)
		}
		swapped = peer(conn).Equal(second)
		conn.Close()
	}
	if !swapped {
		t.Fatal("SIGHUP: new handshakes still get the first certificate")
	}
	if err := get(); err != nil {
		t.Fatalf("the connection open across the reload: %v", err)
	}
	if !peer(old).Equal(first) {
		t.Error("the open connection's certificate changed")
	}

	// The redirect listener: GET and HEAD go to the same path on HTTPS; a body is refused.
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + redirect + "/console/signin?next=%2Fconsole")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != base+"/console/signin?next=%2Fconsole" {
		t.Errorf("redirect: %d %q", resp.StatusCode, loc)
	}
	resp, err = noFollow.Post("http://"+redirect+"/v1/faces", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("POST over plain HTTP: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestServeTLSFlags: mismatched or unreadable TLS flags are refused before
// anything is served.
func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "flags")
	other := filepath.Join(dir, "other")
	writeCert(t, other+".pem", other+".key", "other")
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--tls-cert", certFile}, true, "go together"},
		{[]string{"--tls-key", keyFile}, true, "go together"},
		{[]string{"--http-redirect-addr", "127.0.0.1:0"}, true, "needs --tls-cert"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, false, "missing.pem"},
		{[]string{"--tls-cert", certFile, "--tls-key", other + ".key"}, false, "private key does not match"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--acme-domain", "faces.example.com"}, true, "one or the other"},
		{[]string{"--acme-domain", "localhost"}, true, "public DNS name"},
		{[]string{"--acme-domain", "faces.example.com", "--acme-ca-file", filepath.Join(dir, "none.pem")}, false, "none.pem"},
		{[]string{"--acme-domain", "faces.example.com", "--acme-ca-file", keyFile}, true, "no PEM certificate"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		o := tlsFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := ""
		_, _, err = o.listen(context.Background(), ln, &url, dir, nil)
		ln.Close()
		var ue usageError
		if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (usage error %v), want %q", tc.args, err, errors.As(err, &ue), tc.want)
		}
	}
}
