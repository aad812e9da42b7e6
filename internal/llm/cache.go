// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/allegro/bigcache/v3"
)

// resultCache holds validated answers in bigcache. bigcache's LifeWindow is the TTL on the
// wall clock; every entry also carries its expiry on the injected clock, checked on read, so
// the TTL holds on either clock.
type resultCache struct {
	bc  *bigcache.BigCache
	ttl time.Duration
}

func newResultCache(opts CacheOptions) (*resultCache, error) {
	cfg := bigcache.DefaultConfig(opts.TTL)
	// Shards of at least 64 KiB each, so that a large answer still fits in one.
	shards := 1 << (bits.Len(uint(opts.MaxSizeMiB*16)) - 1)
	cfg.Shards = min(max(shards, 1), 256)
	cfg.HardMaxCacheSize = opts.MaxSizeMiB
	cfg.MaxEntrySize = 1024
	// Only sizes the initial allocation: an eighth of the bound.
	cfg.MaxEntriesInWindow = max(opts.MaxSizeMiB*1024/8, cfg.Shards)
	cfg.CleanWindow = min(max(opts.TTL, time.Second), time.Minute)
	cfg.Verbose = false
	cfg.Logger = nil
	bc, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("llm cache: %w", err)
	}
	return &resultCache{bc: bc, ttl: opts.TTL}, nil
}

// cacheKey is the key of (model, task, key): a digest, so that long caller keys cost nothing.
func cacheKey(model, task, key string) string {
	h := sha256.New()
	for _, s := range []string{model, task, key} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entry layout: expiry (unix nanoseconds, 8 bytes) | model length (2 bytes) | model | raw.
func (c *resultCache) get(key string, now time.Time) (raw []byte, model string, ok bool) {
	b, err := c.bc.Get(key)
	if err != nil || len(b) < 10 {
		return nil, "", false
	}
	exp := int64(binary.BigEndian.Uint64(b[:8]))
	if now.UnixNano() >= exp {
		_ = c.bc.Delete(key)
		return nil, "", false
	}
	ml := int(binary.BigEndian.Uint16(b[8:10]))
	if len(b) < 10+ml {
		return nil, "", false
	}
	return b[10+ml:], string(b[10 : 10+ml]), true
}

func (c *resultCache) set(key, model string, raw []byte, now time.Time) error {
	if len(model) > 1<<16-1 {
		return errors.New("model name too long to cache")
	}
	b := make([]byte, 10+len(model)+len(raw))
	binary.BigEndian.PutUint64(b[:8], uint64(now.Add(c.ttl).UnixNano()))
	binary.BigEndian.PutUint16(b[8:10], uint16(len(model)))
	copy(b[10:], model)
	copy(b[10+len(model):], raw)
	return c.bc.Set(key, b)
}

func (c *resultCache) close() error {
	return c.bc.Close()
}
