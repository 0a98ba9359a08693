package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles names PEM files for a TLS test server: a CA, a server certificate
// for 127.0.0.1, ::1 and localhost signed by it with its key, and a second,
// unrelated CA that must not verify the server.
type TLSFiles struct {
	CAFile, CertFile, KeyFile, WrongCAFile string
}

// GenerateTLS creates fresh ECDSA P-256 keys and certificates, valid for one
// day, in t.TempDir().
func GenerateTLS(t testing.TB) *TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := &TLSFiles{
		CAFile:      filepath.Join(dir, "ca.crt"),
		CertFile:    filepath.Join(dir, "server.crt"),
		KeyFile:     filepath.Join(dir, "server.key"),
		WrongCAFile: filepath.Join(dir, "wrong-ca.crt"),
	}
	ca, caKey := newCert(t, "redistest CA", nil, nil)
	writePEM(t, f.CAFile, "CERTIFICATE", ca.Raw)
	wrong, _ := newCert(t, "redistest wrong CA", nil, nil)
	writePEM(t, f.WrongCAFile, "CERTIFICATE", wrong.Raw)
	srv, srvKey := newCert(t, "redistest server", ca, caKey)
	writePEM(t, f.CertFile, "CERTIFICATE", srv.Raw)
	der, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.KeyFile, "PRIVATE KEY", der)
	return f
}

// newCert makes a CA certificate when parent is nil, else a server
// certificate for loopback signed by parent.
func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		parent, parentKey = tmpl, key
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
