// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// The investigation API (config key `http`): on-demand root-cause ranking for a moment, an
// Alertmanager webhook that ranks every firing alert and forwards the result to the sinks, and
// questions in natural language (ask.go).
const (
	// defaultHTTPEndpoint is the listen address when `http` is set without an endpoint: loopback
	// only, on a port no other component of this project uses.
	defaultHTTPEndpoint = "127.0.0.1:8199"
	rcaPath             = "/api/v1/rca"
	alertsPath          = "/api/v1/alerts"
	// maxAPIBody bounds a request body (after decompression).
	maxAPIBody = 1 << 20
	// maxRankingsPerRequest bounds the distinct rankings of one webhook request; further firing
	// alerts are answered "skipped".
	maxRankingsPerRequest = 100
	// maxTrackedAlerts bounds the alerts whose forwarded result is remembered (to update it when
	// the ranking changes, and to resolve it when the alert resolves); the oldest is forgotten.
	maxTrackedAlerts = 1000
	maxServiceLen    = 256
	maxNoteLen       = 200
)

// serviceLabels are the alert labels naming the service, in order of preference. service_name is
// how service.name reaches Prometheus through most translations.
var serviceLabels = []string{"service.name", "service_name", "service", "job", "app"}

// alertService is the service an alert is about: the first service label present. A job of the
// form namespace/name (what OpenTelemetry's Prometheus exporters make of service.namespace and
// service.name) names the service after the last slash.
func alertService(labels map[string]string) string {
	for _, l := range serviceLabels {
		v := strings.TrimSpace(labels[l])
		if v == "" {
			continue
		}
		if i := strings.LastIndexByte(v, '/'); l == "job" && i >= 0 && i < len(v)-1 {
			v = v[i+1:]
		}
		return v
	}
	return ""
}

func defaultHTTPServerConfig() confighttp.ServerConfig {
	sc := confighttp.NewDefaultServerConfig()
	sc.NetAddr.Endpoint = defaultHTTPEndpoint
	return sc
}

// apiServer serves the investigation API. Rankings read the engine under the exporter's mutex
// only to copy what they need (rca.Engine.Investigation); the ranking itself runs outside it.
type apiServer struct {
	e   *rcaExporter
	tel component.TelemetrySettings

	srv  *http.Server
	addr net.Addr
	done chan struct{} // closed when Serve has returned

	// alertMu serialises the part of webhook requests that changes state (tracked results and
	// forwarding), so that the versions of one alert's result reach the sinks in order.
	alertMu sync.Mutex
	tracked map[string]*list.Element // incident id -> *trackedAlert
	order   *list.List               // oldest first
}

// trackedAlert is the result last forwarded for one alert (fingerprint and start).
type trackedAlert struct {
	inc incident.Incident
	sig string
}

func newAPIServer(e *rcaExporter, tel component.TelemetrySettings) *apiServer {
	if !e.cfg.HTTP.HasValue() {
		return nil
	}
	return &apiServer{e: e, tel: tel, tracked: map[string]*list.Element{}, order: list.New()}
}

// startWithAPI binds the API listener (so a busy port fails Start before anything else starts),
// starts the exporter, then serves.
func (e *rcaExporter) startWithAPI(ctx context.Context, host component.Host) error {
	if e.api == nil {
		return e.start(ctx, host)
	}
	sc := *e.cfg.HTTP.Get() // ToServer fills defaults into its receiver: keep the config as loaded
	if sc.NetAddr.Endpoint == "" {
		sc.NetAddr.Endpoint = defaultHTTPEndpoint
	}
	if sc.NetAddr.Transport == "" {
		sc.NetAddr.Transport = "tcp"
	}
	srv, err := sc.ToServer(ctx, host.GetExtensions(), e.api.tel, e.api.handler(), confighttp.WithErrorHandler(e.api.httpError))
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	ln, err := sc.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("http: listening on %s: %w", sc.NetAddr.Endpoint, err)
	}
	if err := e.start(ctx, host); err != nil {
		_ = ln.Close()
		return err
	}
	e.api.serve(host, srv, ln)
	e.logger.Info("Serving the RCA API", zap.String("endpoint", ln.Addr().String()))
	return nil
}

func (a *apiServer) serve(host component.Host, srv *http.Server, ln net.Listener) {
	a.srv, a.addr, a.done = srv, ln.Addr(), make(chan struct{})
	go func() {
		defer close(a.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.e.logger.Error("RCA API server failed", zap.Error(err))
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
}

// shutdown stops accepting requests and waits for those in flight (until ctx ends, then closes
// their connections). Safe on a nil server and when never started.
func (a *apiServer) shutdown(ctx context.Context) error {
	if a == nil || a.srv == nil {
		return nil
	}
	err := a.srv.Shutdown(ctx)
	if err != nil {
		_ = a.srv.Close()
	}
	<-a.done
	return err
}

func (a *apiServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(rcaPath, a.guard("rca", a.handleRCA))
	mux.HandleFunc(alertsPath, a.guard("alerts", a.handleAlerts))
	mux.HandleFunc(askPath, a.guard("ask", a.handleAsk))
	mux.HandleFunc("/", a.guard("other", func(w http.ResponseWriter, _ *http.Request) {
		a.fail(w, "other", http.StatusNotFound, "not_found", "no such endpoint: use POST "+rcaPath+", POST "+alertsPath+" or POST "+askPath)
	}))
	return mux
}

// guard answers 500 instead of dropping the connection if a handler panics.
func (a *apiServer) guard(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				a.e.logger.Error("RCA API handler panicked", zap.String("endpoint", endpoint), zap.Any("panic", p))
				a.fail(w, endpoint, http.StatusInternalServerError, "error", "internal error")
			}
		}()
		h(w, r)
	}
}

func endpointOf(path string) string {
	switch path {
	case rcaPath:
		return "rca"
	case alertsPath:
		return "alerts"
	case askPath:
		return "ask"
	}
	return "other"
}

func (a *apiServer) count(endpoint, outcome string) {
	a.e.tb.ExporterRcaAPIRequests.Add(context.Background(), 1, metric.WithAttributeSet(
		attribute.NewSet(attribute.String("endpoint", endpoint), attribute.String("outcome", outcome))))
}

// httpError answers the errors of confighttp's own handlers (authentication, decompression) in
// the API's JSON format, and counts them.
func (a *apiServer) httpError(w http.ResponseWriter, r *http.Request, msg string, status int) {
	outcome := "bad_request"
	switch status {
	case http.StatusUnauthorized:
		outcome = "unauthorized"
	case http.StatusRequestEntityTooLarge:
		outcome = "too_large"
	case http.StatusUnsupportedMediaType:
		outcome = "unsupported_media_type"
	}
	a.fail(w, endpointOf(r.URL.Path), status, outcome, msg)
}

type errorResponse struct {
	Error     string     `json:"error"`
	HeldFrom  *time.Time `json:"held_from,omitempty"`
	HeldUntil *time.Time `json:"held_until,omitempty"`
}

func (a *apiServer) fail(w http.ResponseWriter, endpoint string, status int, outcome, msg string) {
	a.reply(w, endpoint, status, outcome, errorResponse{Error: msg})
}

func (a *apiServer) reply(w http.ResponseWriter, endpoint string, status int, outcome string, body any) {
	a.count(endpoint, outcome)
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: encoding the response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is a request failure: status, counted outcome and message.
type apiError struct {
	status  int
	outcome string
	msg     string
	held    *rca.OutsideHistoryError
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, outcome: "bad_request", msg: fmt.Sprintf(format, args...)}
}

func (a *apiServer) failWith(w http.ResponseWriter, endpoint string, err *apiError) {
	body := errorResponse{Error: err.msg}
	if h := err.held; h != nil && h.Held {
		from, to := time.Unix(0, h.From).UTC(), time.Unix(0, h.To).UTC()
		body.HeldFrom, body.HeldUntil = &from, &to
	}
	a.reply(w, endpoint, err.status, err.outcome, body)
}

// decode checks method, content type and size, and decodes one JSON value strictly (unknown
// fields are errors) into v.
func decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return &apiError{
			status: http.StatusMethodNotAllowed, outcome: "method_not_allowed",
			msg: fmt.Sprintf("method %s is not allowed: use POST", r.Method),
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &apiError{
			status: http.StatusUnsupportedMediaType, outcome: "unsupported_media_type",
			msg: "Content-Type must be application/json",
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		var extra json.RawMessage
		if err = dec.Decode(&extra); errors.Is(err, io.EOF) {
			return nil
		} else if err == nil {
			return badRequest("the body must hold a single JSON object")
		}
	}
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &apiError{
			status: http.StatusRequestEntityTooLarge, outcome: "too_large",
			msg: fmt.Sprintf("the body is larger than %d bytes", maxAPIBody),
		}
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty: a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: unexpected end of the body")
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return badRequest("field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
		}
		return badRequest("the body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	case "ptr":
		return "a string"
	}
	return "a " + kind
}

// parseTime reads an RFC 3339 time that fits unix nanoseconds after 1970.
func parseTime(field, s string) (time.Time, *apiError) {
	if s == "" {
		return time.Time{}, badRequest("%s is required: an RFC 3339 time such as 2026-03-01T10:02:00Z", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("%s must be an RFC 3339 time such as 2026-03-01T10:02:00Z: %q is not", field, truncate(s, 64))
	}
	if t.Year() < 1970 || t.Year() > 2261 || t.UnixNano() <= 0 {
		return time.Time{}, badRequest("%s must be between 1970 and 2261", field)
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// rcaRequest is the body of POST /api/v1/rca.
type rcaRequest struct {
	// Time is the moment to explain (RFC 3339), required.
	Time string `json:"time"`
	// Service is the service the question is about, optional.
	Service string `json:"service"`
	// Window is how far before time evidence is taken (Go duration), optional: the correlation
	// window by default, at most the engine's history retention.
	Window string `json:"window"`
}

// rcaResponse is a ranking in the RCA schema (internal/incident.Incident) plus the query, the
// evidence window and a message.
type rcaResponse struct {
	incident.Incident
	Found         bool      `json:"found"`
	Message       string    `json:"message"`
	Query         queryEcho `json:"query"`
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
	HeldFrom      time.Time `json:"held_from"`
	EvidenceUntil time.Time `json:"evidence_until"`
	OpenIncidents []string  `json:"open_incidents"`
}

type queryEcho struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"`
	Window  string    `json:"window"`
}

func (a *apiServer) handleRCA(w http.ResponseWriter, r *http.Request) {
	var req rcaRequest
	if err := decode(w, r, &req); err != nil {
		a.failWith(w, "rca", err)
		return
	}
	t, aerr := parseTime("time", req.Time)
	if aerr != nil {
		a.failWith(w, "rca", aerr)
		return
	}
	q := rca.Query{Time: t.UnixNano(), Service: strings.TrimSpace(req.Service)}
	if len(q.Service) > maxServiceLen {
		a.failWith(w, "rca", badRequest("service must be at most %d bytes", maxServiceLen))
		return
	}
	if req.Window != "" {
		d, err := time.ParseDuration(req.Window)
		maxW := a.e.engine.MaxQueryWindow() // configuration only: no lock needed
		switch {
		case err != nil:
			aerr = badRequest("window must be a Go duration such as 10m: %q is not", truncate(req.Window, 64))
		case d <= 0:
			aerr = badRequest("window must be positive")
		case d > maxW:
			aerr = badRequest("window must be at most %s (the history held)", maxW)
		}
		if aerr != nil {
			a.failWith(w, "rca", aerr)
			return
		}
		q.Window = d
	}
	res, aerr := a.investigate(q)
	if aerr != nil {
		a.failWith(w, "rca", aerr)
		return
	}
	a.reply(w, "rca", http.StatusOK, "ok", a.response(&res, q))
}

// investigate copies what the ranking needs under the exporter's mutex and ranks outside it.
func (a *apiServer) investigate(q rca.Query) (rca.Result, *apiError) {
	a.e.mu.Lock()
	inv, err := a.e.engine.Investigation(q)
	a.e.mu.Unlock()
	if err != nil {
		var oh *rca.OutsideHistoryError
		switch {
		case errors.As(err, &oh):
			return rca.Result{}, &apiError{status: http.StatusUnprocessableEntity, outcome: "outside_history", msg: err.Error(), held: oh}
		case errors.Is(err, rca.ErrInvalidQuery):
			return rca.Result{}, badRequest("%v", err)
		}
		return rca.Result{}, &apiError{status: http.StatusInternalServerError, outcome: "error", msg: err.Error()}
	}
	return inv.Rank(), nil
}

func (a *apiServer) response(res *rca.Result, q rca.Query) *rcaResponse {
	w := time.Duration(res.To - res.From)
	return &rcaResponse{
		Incident: res.Incident, Found: res.Found, Message: res.Message,
		Query:       queryEcho{Time: time.Unix(0, q.Time).UTC(), Service: q.Service, Window: w.String()},
		WindowStart: time.Unix(0, res.From).UTC(), WindowEnd: time.Unix(0, res.To).UTC(),
		HeldFrom: time.Unix(0, res.HeldFrom).UTC(), EvidenceUntil: time.Unix(0, res.EvidenceUntil).UTC(),
		OpenIncidents: append([]string{}, res.OpenIncidents...),
	}
}

// webhookPayload is an Alertmanager webhook notification (webhook_config, version 4).
type webhookPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int64             `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// alertsResponse answers a webhook: one entry per alert, in order.
type alertsResponse struct {
	Received  int           `json:"received"`
	Forwarded int           `json:"forwarded"`
	Alerts    []alertResult `json:"alerts"`
}

type alertResult struct {
	Index           int          `json:"index"`
	Fingerprint     string       `json:"fingerprint,omitempty"`
	AlertName       string       `json:"alertname,omitempty"`
	Service         string       `json:"service,omitempty"`
	Status          string       `json:"status"`
	StartsAt        time.Time    `json:"starts_at"`
	Outcome         string       `json:"outcome"`
	Message         string       `json:"message"`
	IncidentID      string       `json:"incident_id,omitempty"`
	IncidentVersion int          `json:"incident_version,omitempty"`
	Result          *rcaResponse `json:"result,omitempty"`
}

// alertPlan is what one alert asks for, worked out before anything changes.
type alertPlan struct {
	out     *alertResult
	id      string
	endsAt  time.Time
	inc     *incident.Incident // a firing alert's ranked result, to forward
	resolve bool
}

func (a *apiServer) handleAlerts(w http.ResponseWriter, r *http.Request) {
	var p webhookPayload
	if err := decode(w, r, &p); err != nil {
		a.failWith(w, "alerts", err)
		return
	}
	plans, aerr := validateWebhook(&p)
	if aerr != nil {
		a.failWith(w, "alerts", aerr)
		return
	}

	// Rank every firing alert; nothing changes yet.
	type rankKey struct {
		t             int64
		service, note string
	}
	cache := map[rankKey]*rca.Result{}
	outside := 0
	var lastOutside *apiError
	for _, pl := range plans {
		if pl.resolve || pl.out.Outcome != "" {
			continue
		}
		al := &p.Alerts[pl.out.Index]
		q := rca.Query{Time: pl.out.StartsAt.UnixNano(), Service: pl.out.Service, Note: alertNote(pl.out.AlertName, al)}
		k := rankKey{q.Time, q.Service, q.Note}
		res, ok := cache[k]
		if !ok {
			if len(cache) >= maxRankingsPerRequest {
				pl.out.Outcome = "skipped"
				pl.out.Message = fmt.Sprintf("not ranked: at most %d alerts are ranked per request", maxRankingsPerRequest)
				continue
			}
			got, err := a.investigate(q)
			if err != nil {
				pl.out.Outcome, pl.out.Message = err.outcome, err.msg
				if err.outcome == "outside_history" {
					outside++
					lastOutside = err
				}
				continue
			}
			res = &got
			cache[k] = res
		}
		pl.out.Result = a.response(res, q)
		if !res.Found {
			pl.out.Outcome, pl.out.Message = "no_anomalies", res.Message
			continue
		}
		inc := res.Incident.Clone()
		pl.inc = &inc
		pl.out.Message = res.Message
	}
	if outside == len(plans) {
		// Every alert is a firing alert outside the history held: nothing to do.
		a.failWith(w, "alerts", lastOutside)
		return
	}

	resp, aerr := a.applyAlerts(r.Context(), plans, &p)
	if aerr != nil {
		a.failWith(w, "alerts", aerr)
		return
	}
	a.reply(w, "alerts", http.StatusOK, "ok", resp)
}

// validateWebhook checks the payload and returns one plan per alert, or a 400 before anything
// changes.
func validateWebhook(p *webhookPayload) ([]*alertPlan, *apiError) {
	if p.Version != "4" {
		return nil, badRequest("version must be \"4\" (Alertmanager webhook format), got %q", truncate(p.Version, 16))
	}
	if len(p.Alerts) == 0 {
		return nil, badRequest("alerts must not be empty")
	}
	plans := make([]*alertPlan, len(p.Alerts))
	for i := range p.Alerts {
		al := &p.Alerts[i]
		field := fmt.Sprintf("alerts[%d]", i)
		if al.Status != "firing" && al.Status != "resolved" {
			return nil, badRequest("%s.status must be \"firing\" or \"resolved\", got %q", field, truncate(al.Status, 16))
		}
		starts, err := parseTime(field+".startsAt", al.StartsAt)
		if err != nil {
			return nil, err
		}
		out := &alertResult{Index: i, Fingerprint: al.Fingerprint, AlertName: al.Labels["alertname"], Status: al.Status, StartsAt: starts.UTC()}
		out.Service = alertService(al.Labels)
		if len(out.Service) > maxServiceLen {
			return nil, badRequest("%s: the service label must be at most %d bytes", field, maxServiceLen)
		}
		pl := &alertPlan{out: out, id: alertIncidentID(al, starts), resolve: al.Status == "resolved"}
		if pl.resolve && al.EndsAt != "" && !strings.HasPrefix(al.EndsAt, "0001-01-01") {
			if pl.endsAt, err = parseTime(field+".endsAt", al.EndsAt); err != nil {
				return nil, err
			}
		}
		if al.Labels["alertname"] == sink.AlertName || al.Labels["incident_id"] != "" {
			out.Outcome = "own_alert"
			out.Message = "an alert raised for this exporter's own incidents is ignored (it would loop)"
			pl.resolve = false
		}
		plans[i] = pl
	}
	return plans, nil
}

// applyAlerts forwards the new or changed results of firing alerts, and the resolution of the
// results forwarded for alerts that resolved. Results are remembered only once forwarded: when
// forwarding fails nothing changes and the caller gets 503 (Alertmanager retries).
func (a *apiServer) applyAlerts(ctx context.Context, plans []*alertPlan, p *webhookPayload) (*alertsResponse, *apiError) {
	a.alertMu.Lock()
	defer a.alertMu.Unlock()
	type change struct {
		id string
		t  *trackedAlert // nil: forget
	}
	var (
		forward []incident.Incident
		changes []change
		local   = map[string]*trackedAlert{} // results decided in this request
	)
	lookup := func(id string) *trackedAlert {
		if t, ok := local[id]; ok {
			return t
		}
		if el, ok := a.tracked[id]; ok {
			return el.Value.(*trackedAlert)
		}
		return nil
	}
	for _, pl := range plans {
		out := pl.out
		switch {
		case out.Outcome != "":
		case pl.resolve:
			prev := lookup(pl.id)
			if prev == nil {
				out.Outcome, out.Message = "resolved_ignored", "resolved: no result was forwarded for this alert"
				continue
			}
			inc := prev.inc.Clone()
			inc.Version++
			inc.Status = incident.StatusResolved
			end := pl.endsAt
			if end.IsZero() || end.Before(inc.StartedAt) {
				end = inc.UpdatedAt
			}
			end = end.UTC()
			inc.ResolvedAt, inc.UpdatedAt = &end, end
			forward = append(forward, inc)
			local[pl.id] = nil
			changes = append(changes, change{id: pl.id})
			out.Outcome, out.Message = "resolved_forwarded", "resolved: the result forwarded for this alert is resolved in the sinks"
			out.IncidentID, out.IncidentVersion = inc.ID, inc.Version
		case pl.inc != nil:
			inc := pl.inc
			decorate(inc, pl.id, out, &p.Alerts[out.Index])
			sig := rca.Signature(inc)
			if prev := lookup(pl.id); prev != nil {
				if prev.sig == sig {
					inc.Version = prev.inc.Version
					out.Result.Incident = inc.Clone()
					out.Outcome = "unchanged"
					out.IncidentID, out.IncidentVersion = inc.ID, inc.Version
					continue
				}
				inc.Version = prev.inc.Version + 1
			}
			out.Result.Incident = inc.Clone()
			t := &trackedAlert{inc: inc.Clone(), sig: sig}
			local[pl.id] = t
			changes = append(changes, change{id: pl.id, t: t})
			forward = append(forward, *inc)
			out.Outcome = "forwarded"
			out.IncidentID, out.IncidentVersion = inc.ID, inc.Version
		}
	}
	if err := a.e.forwardErr(ctx, forward); err != nil {
		return nil, &apiError{
			status: http.StatusServiceUnavailable, outcome: "error",
			msg: "the results could not be handed to the sinks (retry later): " + err.Error(),
		}
	}
	for _, c := range changes {
		if c.t == nil {
			a.forget(c.id)
		} else {
			a.remember(c.id, c.t)
		}
	}
	resp := &alertsResponse{Received: len(plans), Forwarded: len(forward), Alerts: make([]alertResult, len(plans))}
	for i, pl := range plans {
		resp.Alerts[i] = *pl.out
		a.e.tb.ExporterRcaAPIAlerts.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", pl.out.Outcome))))
	}
	return resp, nil
}

func (a *apiServer) remember(id string, t *trackedAlert) {
	if el, ok := a.tracked[id]; ok {
		el.Value = t
		a.order.MoveToBack(el)
		return
	}
	a.tracked[id] = a.order.PushBack(t)
	for a.order.Len() > maxTrackedAlerts {
		old := a.order.Front()
		a.order.Remove(old)
		delete(a.tracked, old.Value.(*trackedAlert).inc.ID)
		a.e.tb.ExporterRcaDropped.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "alert_results_full"))))
	}
}

func (a *apiServer) forget(id string) {
	if el, ok := a.tracked[id]; ok {
		a.order.Remove(el)
		delete(a.tracked, id)
	}
}

// decorate turns a ranking into the incident forwarded for an alert: a stable id per alert
// (fingerprint and start), and the alert in the title and explanation.
func decorate(inc *incident.Incident, id string, out *alertResult, al *webhookAlert) {
	inc.ID = id
	inc.Version = 1
	name := out.AlertName
	if name == "" {
		name = "alert"
	}
	inc.Title = truncate("["+name+"] "+inc.Title, 160)
	var b strings.Builder
	fmt.Fprintf(&b, "Triggered by alert %s", name)
	if out.Service != "" {
		fmt.Fprintf(&b, " on %s", out.Service)
	}
	fmt.Fprintf(&b, " (started %s", out.StartsAt.Format(time.RFC3339))
	if al.Fingerprint != "" {
		fmt.Fprintf(&b, ", fingerprint %s", truncate(al.Fingerprint, 64))
	}
	b.WriteString(")")
	if s := al.Annotations["summary"]; s != "" {
		fmt.Fprintf(&b, ": %s", truncate(s, maxNoteLen))
	}
	b.WriteString(". ")
	b.WriteString(inc.Explanation)
	inc.Explanation = b.String()
}

// alertNote is the evidence line of the alert when its service shows no symptom of its own.
func alertNote(name string, al *webhookAlert) string {
	if name == "" {
		name = "alert"
	}
	note := "alert " + name
	if s := al.Annotations["summary"]; s != "" {
		note += ": " + s
	}
	return truncate(note, maxNoteLen)
}

// alertIncidentID is stable for one alert instance: its fingerprint (or, without one, its
// labels) and its start.
func alertIncidentID(al *webhookAlert, starts time.Time) string {
	h := fnv.New64a()
	_, _ = io.WriteString(h, "alert\x00")
	if al.Fingerprint != "" {
		_, _ = io.WriteString(h, al.Fingerprint)
	} else {
		keys := make([]string, 0, len(al.Labels))
		for k := range al.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_, _ = fmt.Fprintf(h, "%s=%s\x00", k, al.Labels[k])
		}
	}
	_, _ = fmt.Fprintf(h, "\x00%d", starts.UnixNano())
	return fmt.Sprintf("%016x", h.Sum64())
}
