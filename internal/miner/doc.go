// Package miner is an online, Drain-style log template miner written from scratch.
//
// Each line is split into whitespace-delimited tokens; variable parts (numbers, hex ids,
// IP addresses and ports, UUIDs, paths, URLs, e-mail addresses, dates and times, durations,
// sizes, quoted key="values", booleans, ids such as blk_-123 or job_2008_0001, and user
// masks) are replaced by wildcards inside the tokens, keeping the constant text and its
// punctuation. Lines are grouped in a prefix tree keyed by the token count and the leading
// tokens; a line joins the most similar template of its leaf, which is generalised with "<*>"
// where they differ. Differences that look like constant words (for example HTTPS vs SOCKS5,
// or Paused vs Resumed) never generalise a template; lower-case words, ids and values of one
// key do once three distinct values have been seen.
//
// A Miner is bounded (templates with LRU eviction, a churn guard, line length, token count),
// counts every bound it hits, never panics on any input, and snapshots to a versioned binary
// format. It is not goroutine-safe. See docs/miner.md for the design and measured figures.
package miner // import "github.com/otelcol-aiops/otelcol-aiops/internal/miner"
