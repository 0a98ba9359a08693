package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestTLSAndACL runs a TLS-only redis-server with an ACL user limited to the
// "app:" key prefix: the right CA connects, a wrong CA fails the handshake,
// a wrong password is a clear error, and the user cannot touch other keys.
func TestTLSAndACL(t *testing.T) {
	files := redistest.GenerateTLS(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{
		TLS: files,
		ConfigLines: []string{
			"user default off",
			"user app on >app-password ~app:* +@all -@dangerous",
		},
	})
	ctx := context.Background()
	connect := func(t *testing.T, caFile, password string) error {
		c, err := core.New(core.Config{
			URL:          "rediss://app:" + password + "@" + srv.Addr(),
			TLSCAFile:    caFile,
			DialTimeout:  2 * time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Set(ctx, "app:greeting", "hello", time.Minute)
	}
	tests := []struct {
		name     string
		caFile   string
		password string
		wantErr  string
	}{
		{"right CA", files.CAFile, "app-password", ""},
		{"wrong CA", files.WrongCAFile, "app-password", "certificate"},
		{"wrong password", files.CAFile, "nope", "WRONGPASS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := connect(t, tt.caFile, tt.password)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	t.Run("acl limits keys", func(t *testing.T) {
		c, err := core.New(core.Config{URL: "rediss://app:app-password@" + srv.Addr(), TLSCAFile: files.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if v, _, err := core.GetAs[string](ctx, c, "app:greeting"); err != nil || v != "hello" {
			t.Errorf("allowed key: got %q, %v, want hello", v, err)
		}
		err = c.Set(ctx, "other:key", "x", 0)
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("key outside the ACL pattern: got %v, want NOPERM", err)
		}
		if n, err := c.InvalidatePrefix(ctx, "app:"); err != nil || n != 1 {
			t.Errorf("InvalidatePrefix within ACL: got %d, %v, want 1, nil", n, err)
		}
	})

	t.Run("plaintext to TLS port fails fast", func(t *testing.T) {
		c, err := core.New(core.Config{URL: "redis://app:app-password@" + srv.Addr(), ReadTimeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		err = c.Ping(cctx)
		if err == nil {
			t.Fatal("plaintext ping to a TLS port: got nil, want an error")
		}
		if errors.Is(err, context.DeadlineExceeded) && time.Since(start) >= 3*time.Second {
			t.Errorf("plaintext ping hung until the context deadline: %v", err)
		}
	})
}
