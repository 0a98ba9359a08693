package memo

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkTTL bounds the life of Check's probe keys should their cleanup fail.
const checkTTL = 10 * time.Second

// Check runs, once, every Redis command the Func uses (GET, SET with PX and
// NX, EXISTS, INCR, TIME, DEL, and each of its scripts through EVALSHA and
// EVAL; the generation's through core.Client.CheckGeneration) on probe keys
// under the Func's namespace, which it deletes again (they also expire
// within seconds). No real entry, lease or generation is touched.
// Call it at start-up: a missing ACL permission or an unreachable server is
// then reported at once as "memo: check: …" wrapping Redis' error, which for
// a missing permission is a NOPERM error naming the command.
func (f *Func[K, V]) Check(ctx context.Context) error {
	if ctx == nil {
		return errNilContext("check")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	// One hash tag for all probe keys: the cleanup DEL is a single command,
	// which a cluster allows only within one slot.
	probe := strings.TrimSuffix(f.genKey, ":gen") + ":check:{" + hex.EncodeToString(b[:]) + "}"
	entry, lease, gen := probe+":entry", probe+":lease", probe+":gen"
	err := f.checkCommands(ctx, entry, lease)
	if err == nil {
		err = checkScripts(ctx, f.rdb, entry, lease)
	}
	if err == nil {
		err = f.c.CheckGeneration(ctx, gen)
	}
	err = errors.Join(err, f.rdb.Del(ctx, entry, lease, gen).Err())
	if err != nil {
		return fmt.Errorf("memo: check: %w", err)
	}
	return nil
}

// checkCommands runs the plain commands, and those the scripts call, one by
// one, so that a refused one is named in the error (Redis does not name a
// command refused inside a script).
func (f *Func[K, V]) checkCommands(ctx context.Context, entry, lease string) error {
	steps := []func() error{
		func() error { return ignoreNil(f.rdb.Get(ctx, entry).Err()) },
		func() error { return f.rdb.Set(ctx, entry, "probe", checkTTL).Err() },
		func() error { return f.rdb.SetNX(ctx, lease, "probe", checkTTL).Err() },
		func() error { return f.rdb.Del(ctx, lease).Err() },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// checkScripts runs each script once on the probe keys.
func checkScripts(ctx context.Context, rdb redis.UniversalClient, entry, lease string) error {
	runs := []*redis.Cmd{
		// seen is the SHA-1 of what checkCommands stored, so the SET runs.
		writeScript.Run(ctx, rdb, []string{entry}, "probe", fmt.Sprintf("%x", sha1.Sum([]byte("probe"))), checkTTL.Milliseconds()),
		releaseScript.Run(ctx, rdb, []string{lease}, "probe"),
	}
	for _, cmd := range runs {
		if err := ignoreNil(cmd.Err()); err != nil {
			return err
		}
	}
	return nil
}

func ignoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
