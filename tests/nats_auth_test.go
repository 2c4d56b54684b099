package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// expectP2P fails the test unless the point-to-point suite passed on every rank.
func expectP2P(t *testing.T, np int, res result) {
	t.Helper()
	if res.code != 0 || strings.Count(res.stdout, " ok any-source\n") != np {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	noProcessLeft(t, res)
}

// TestNATSTokenInURL: a server that wants a token, given in the URL.
func TestNATSTokenInURL(t *testing.T) {
	token := newMarker()
	srv := startNATSServerWith(t, &natsServer{}, fmt.Sprintf("authorization { token: %q }\n", token))
	url := fmt.Sprintf("nats://%s@127.0.0.1:%d", token, srv.port)
	expectP2P(t, 3, runGorun(t, job{np: 3, prog: "p2p", flags: []string{"--nats", url}}))
	res := runGorun(t, job{np: 2, prog: "p2p", flags: []string{"--nats", fmt.Sprintf("nats://wrong@127.0.0.1:%d", srv.port)}})
	if res.code == 0 || !strings.Contains(strings.ToLower(res.stderr), "authorization") {
		t.Errorf("wrong token: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestNATSCredsFile: a server in operator (JWT) mode; gorun and every rank
// authenticate with --nats-creds.
func TestNATSCredsFile(t *testing.T) {
	dir := t.TempDir()
	operator, _ := nkeys.CreateOperator()
	operatorPub, _ := operator.PublicKey()
	operatorJWT, err := jwt.NewOperatorClaims(operatorPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	accountPub, _ := account.PublicKey()
	accountJWT, err := jwt.NewAccountClaims(accountPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	userJWT, err := jwt.NewUserClaims(userPub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, userSeed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile, operatorFile := filepath.Join(dir, "user.creds"), filepath.Join(dir, "operator.jwt")
	if os.WriteFile(credsFile, creds, 0o600) != nil || os.WriteFile(operatorFile, []byte(operatorJWT), 0o600) != nil {
		t.Fatal("cannot write the credentials")
	}
	srv := startNATSServerWith(t, &natsServer{}, fmt.Sprintf("operator: %q\nresolver: MEMORY\nresolver_preload: { %s: %q }\n",
		operatorFile, accountPub, accountJWT))
	url := fmt.Sprintf("nats://127.0.0.1:%d", srv.port)
	expectP2P(t, 3, runGorun(t, job{np: 3, prog: "p2p", flags: []string{"--nats", url, "--nats-creds", credsFile}}))
	res := runGorun(t, job{np: 2, prog: "p2p", flags: []string{"--nats", url}})
	if res.code == 0 || !strings.Contains(strings.ToLower(res.stderr), "authorization") {
		t.Errorf("no credentials: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestNATSTLSWithCA: a server with a certificate from our own CA; ranks
// trust it through --nats-ca, and without it gorun refuses within 5 s.
func TestNATSTLSWithCA(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	srv := startNATSServerWith(t, &natsServer{}, fmt.Sprintf("tls { cert_file: %q, key_file: %q }\n", certFile, keyFile))
	url := fmt.Sprintf("tls://127.0.0.1:%d", srv.port)
	expectP2P(t, 3, runGorun(t, job{np: 3, prog: "p2p", flags: []string{"--nats", url, "--nats-ca", caFile}}))
	start := time.Now()
	res := runGorun(t, job{np: 2, prog: "p2p", flags: []string{"--nats", url}})
	if res.code == 0 || !strings.Contains(res.stderr, "certificate") || time.Since(start) > 7*time.Second {
		t.Errorf("without the CA: exit %d after %v, stderr %q", res.code, time.Since(start), res.stderr)
	}
}

// writeTestPKI makes a CA and a server certificate for 127.0.0.1 signed by
// it, as PEM files in dir.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gorun test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}
