package main

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// loopbackDNS answers every A query with 127.0.0.1 (and nothing else),
// over TCP as pebble's validation authority asks, until the test ends.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 0, 0, 1)})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// TestServeACME gets the serving certificate from a local ACME test server
// (pebble, in this process, never a public CA): the first handshake for the
// name makes `serve` order a certificate, pebble validates the TLS-ALPN-01
// challenge against the real listener, and the certificate is served and
// cached in DATA/acme.
func TestServeACME(t *testing.T) {
	const domain = "faces.likeness.test"
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	port := freeAddr(t)
	_, p, _ := net.SplitHostPort(port)
	tlsPort, _ := strconv.Atoi(p)

	logger := log.New(io.Discard, "", 0)
	store := pebbledb.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "test"}})
	validator := va.New(logger, 0, tlsPort, false, loopbackDNS(t), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	acmeSrv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(acmeSrv.Close)
	caFile := filepath.Join(t.TempDir(), "pebble-https.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acmeSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	base := startServe(t, "--addr", port, "--acme-domain", domain, "--acme-email", "ops@likeness.test",
		"--acme-directory", acmeSrv.URL+wfe.DirectoryPath, "--acme-ca-file", caFile)
	if base != "https://"+domain+":"+p {
		t.Errorf("public URL %s", base)
	}

	var conn *tls.Conn
	var err error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 60 * time.Second}, "tcp", port,
			&tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no certificate from the ACME server: %v", err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname(domain); err != nil || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("served certificate for %v issued by %q: %v", leaf.DNSNames, leaf.Issuer.CommonName, err)
	}
	// The HTTP reply carries HSTS like any TLS reply.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: domain, InsecureSkipVerify: true},
		DialContext:     (&net.Dialer{}).DialContext}}
	resp, err := client.Get("https://" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("healthz over ACME TLS: %d %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// A name that is not ours gets no certificate (and orders none).
	if c, err := tls.Dial("tcp", port, &tls.Config{ServerName: "other.likeness.test", InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("a handshake for another name succeeded")
	}
}
