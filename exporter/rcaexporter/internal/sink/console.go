// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// ConsoleConfig configures the console sink, which logs a readable summary (for demos).
type ConsoleConfig struct {
	// MaxEvidence is the number of evidence lines printed (default 3).
	MaxEvidence int `mapstructure:"max_evidence"`
	// MaxCandidates is the number of ranked candidates printed (default 3).
	MaxCandidates int `mapstructure:"max_candidates"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultConsoleConfig returns the console defaults.
func NewDefaultConsoleConfig() ConsoleConfig {
	return ConsoleConfig{MaxEvidence: 3, MaxCandidates: 3}
}

// Validate checks the console section.
func (c *ConsoleConfig) Validate() error {
	var errs []error
	if c.MaxEvidence < 0 {
		errs = append(errs, errors.New("`max_evidence` must not be negative"))
	}
	if c.MaxCandidates < 0 {
		errs = append(errs, errors.New("`max_candidates` must not be negative"))
	}
	return errors.Join(errs...)
}

// Console writes each incident as a multi-line Info log message. It never fails.
type Console struct {
	cfg    ConsoleConfig
	logger *zap.Logger
}

var _ Sink = (*Console)(nil)

// NewConsole builds a console sink logging through logger (nil means no output).
func NewConsole(cfg ConsoleConfig, logger *zap.Logger) *Console {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Console{cfg: cfg, logger: logger}
}

// Name returns "console".
func (*Console) Name() string { return "console" }

// Start does nothing.
func (*Console) Start(context.Context, component.Host) error { return nil }

// Shutdown flushes the logger.
func (c *Console) Shutdown(context.Context) error {
	_ = c.logger.Sync() // stderr/stdout Sync errors are expected on some platforms
	return nil
}

// Send logs the summary.
func (c *Console) Send(_ context.Context, inc *incident.Incident) error {
	c.logger.Info(ConsoleSummary(inc, c.cfg),
		zap.String("incident_id", inc.ID),
		zap.Int("incident_version", inc.Version),
		zap.String("status", string(inc.Status)),
		zap.String("severity", string(inc.Severity)),
		zap.String("root_cause_service", inc.RootCauseService),
	)
	return nil
}

// ConsoleSummary renders the multi-line text the console sink logs.
func ConsoleSummary(inc *incident.Incident, cfg ConsoleConfig) string {
	var b strings.Builder
	state := "INCIDENT"
	if isResolved(inc) {
		state = "RESOLVED"
	}
	fmt.Fprintf(&b, "%s [%s] %s (id %s, v%d)\n", state, orUnknown(string(inc.Severity)), title(inc), inc.ID, inc.Version)
	fmt.Fprintf(&b, "  root cause:  %s", orUnknown(inc.RootCauseService))
	if inc.RootCauseIssue != "" {
		fmt.Fprintf(&b, ": %s", inc.RootCauseIssue)
	}
	fmt.Fprintf(&b, " (confidence %.0f%%, %s)\n", inc.Confidence*100, orUnknown(inc.Source))
	if len(inc.PropagationPath) > 0 {
		fmt.Fprintf(&b, "  propagation: %s\n", pathString(inc.PropagationPath))
	}
	if len(inc.AffectedServices) > 0 {
		fmt.Fprintf(&b, "  affected:    %s\n", strings.Join(inc.AffectedServices, ", "))
	}
	for i, cand := range inc.Candidates {
		if i >= cfg.MaxCandidates {
			break
		}
		if i == 0 {
			b.WriteString("  candidates:\n")
		}
		fmt.Fprintf(&b, "    %d. %s (%.3f)\n", i+1, cand.Service, cand.Score)
	}
	if ev := topEvidence(inc, cfg.MaxEvidence); len(ev) > 0 {
		b.WriteString("  evidence:\n")
		for _, e := range ev {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	if len(inc.RemediationSteps) > 0 {
		b.WriteString("  remediation:\n")
		for i, s := range inc.RemediationSteps {
			fmt.Fprintf(&b, "    %d. %s\n", i+1, s)
		}
	}
	if inc.Explanation != "" {
		fmt.Fprintf(&b, "  explanation: %s\n", inc.Explanation)
	}
	fmt.Fprintf(&b, "  started %s, updated %s", fmtTime(inc.StartedAt), fmtTime(inc.UpdatedAt))
	if inc.ResolvedAt != nil {
		fmt.Fprintf(&b, ", resolved %s", fmtTime(*inc.ResolvedAt))
	}
	return b.String()
}
