package shop

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsRejectsMeaninglessLimits(t *testing.T) {
	for _, args := range [][]string{
		{"-rate-limit", "0"}, {"-rate-limit", "-3"},
		{"-rate-window", "0"}, {"-rate-window", "-5s"},
	} {
		_, err := ParseFlags("test", args)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: got %v, want an error naming %s", args, err, args[0])
		}
	}
	f, err := ParseFlags("test", []string{"-rate-limit", "7", "-rate-window", "3s"})
	if err != nil || f.RateLimit != 7 || f.RateWindow != 3*time.Second {
		t.Errorf("valid flags: got %+v, %v", f, err)
	}
}

func TestRunRejectsMeaninglessLimits(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	build := func(*Service) (http.Handler, error) {
		t.Fatal("Run got as far as building the routes")
		return nil, nil
	}
	for _, f := range []Flags{{RateLimit: 0, RateWindow: time.Second}, {RateLimit: 5, RateWindow: 0}} {
		f.Addr, f.Redis = "127.0.0.1:0", "embedded"
		if err := Run(t.Context(), log, f, build); err == nil {
			t.Errorf("Run(%+v): got nil, want an error", f)
		}
	}
}
