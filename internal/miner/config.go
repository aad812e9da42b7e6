package miner

import (
	"errors"
	"fmt"
	"math"
	"regexp"
)

// maxUserMasks bounds Config.Masks: a wildcard kind is stored in one control byte
// (see pattern encoding in tokenize.go), leaving room for 30 user masks.
const maxUserMasks = 30

// Mask is a user-defined named mask: every regex match becomes the placeholder "<Name>" in
// templates (a wildcard, like "<*>") and is extracted as a parameter. Applied before the
// built-in masks.
type Mask struct {
	// Name is rendered as "<Name>". Letters, digits, '_', '-' and '.' only.
	Name string `mapstructure:"name"`
	// Regex is a Go regular expression (RE2 syntax). Empty matches are ignored.
	Regex string `mapstructure:"regex"`
}

// Config configures a Miner. Use DefaultConfig and override fields as needed.
type Config struct {
	// SimilarityThreshold is the fraction of equal tokens a line needs to join a template, in (0,1].
	SimilarityThreshold float64 `mapstructure:"similarity_threshold"`
	// Depth is the prefix-tree depth (>= 3): the root, one level keyed by the token count,
	// then Depth-2 levels keyed by the leading tokens.
	Depth int `mapstructure:"depth"`
	// MaxChildren is the fan-out per tree node before new tokens fall back to the wildcard child.
	MaxChildren int `mapstructure:"max_children"`
	// MaxTemplates bounds the templates of one Miner; the least-recently-used template is
	// evicted beyond it (Stats.Evicted).
	MaxTemplates int `mapstructure:"max_templates"`
	// MaxLineLength (bytes): longer lines are truncated on a rune boundary before mining
	// (Stats.Truncated, Result.Truncated).
	MaxLineLength int `mapstructure:"max_line_length"`
	// MaxTokens: tokens beyond this are merged into the last token (Stats.TokensCapped).
	MaxTokens int `mapstructure:"max_tokens"`
	// ChurnGuardRatio: if evictions/creations over the recent window exceed it, template
	// creation is paused for one window (Stats.ChurnBlocked). 0 disables the guard.
	ChurnGuardRatio float64 `mapstructure:"churn_guard_ratio"`
	// Masks are user-defined masks applied before the built-in ones.
	Masks []Mask `mapstructure:"masks"`
}

// DefaultConfig returns defaults that work on any log source with no tuning.
func DefaultConfig() Config {
	return Config{
		SimilarityThreshold: 0.5,
		Depth:               4,
		MaxChildren:         100,
		MaxTemplates:        1000,
		MaxLineLength:       8192,
		MaxTokens:           128,
		ChurnGuardRatio:     0.5,
	}
}

// Validate checks the configuration. Error messages name the field in snake_case.
func (c Config) Validate() error {
	var errs []error
	if math.IsNaN(c.SimilarityThreshold) || c.SimilarityThreshold <= 0 || c.SimilarityThreshold > 1 {
		errs = append(errs, errors.New("similarity_threshold must be in (0,1]"))
	}
	if c.Depth < 3 || c.Depth > 64 {
		errs = append(errs, errors.New("depth must be in [3,64]"))
	}
	if c.MaxChildren < 1 {
		errs = append(errs, errors.New("max_children must be >= 1"))
	}
	if c.MaxTemplates < 1 {
		errs = append(errs, errors.New("max_templates must be >= 1"))
	}
	if c.MaxLineLength < 1 {
		errs = append(errs, errors.New("max_line_length must be >= 1"))
	}
	if c.MaxTokens < 1 || c.MaxTokens > 1<<16 {
		errs = append(errs, errors.New("max_tokens must be in [1,65536]"))
	}
	if math.IsNaN(c.ChurnGuardRatio) || math.IsInf(c.ChurnGuardRatio, 0) || c.ChurnGuardRatio < 0 {
		errs = append(errs, errors.New("churn_guard_ratio must be a finite number >= 0 (0 disables)"))
	}
	if len(c.Masks) > maxUserMasks {
		errs = append(errs, fmt.Errorf("masks must have at most %d entries", maxUserMasks))
	}
	seen := make(map[string]bool, len(c.Masks))
	for i, mk := range c.Masks {
		if !validMaskName(mk.Name) {
			errs = append(errs, fmt.Errorf("masks[%d].name %q must be non-empty and contain only letters, digits, '_', '-' or '.'", i, mk.Name))
		} else if seen[mk.Name] || mk.Name == "*" {
			errs = append(errs, fmt.Errorf("masks[%d].name %q is duplicated", i, mk.Name))
		}
		seen[mk.Name] = true
		if mk.Regex == "" {
			errs = append(errs, fmt.Errorf("masks[%d].regex must not be empty", i))
		} else if _, err := regexp.Compile(mk.Regex); err != nil {
			errs = append(errs, fmt.Errorf("masks[%d].regex: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func validMaskName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
