# otelcol-aiops: build, test, generate, lint, bench and eval.
# Everything this file needs (ocb, mdatagen, golangci-lint) is installed into ./bin on first use.

SHELL        := /bin/bash
GO           ?= go
BIN          := $(CURDIR)/bin
OCB_VERSION  := v0.165.0
LINT_VERSION := v2.15.0
OCB          := $(BIN)/builder
MDATAGEN     := $(BIN)/mdatagen
GOLANGCI     := $(BIN)/golangci-lint
DIST         := $(BIN)/otelcol-aiops
DATA         ?= $(CURDIR)/../shared/data
GO_SOURCES   := $(shell find . -name '*.go' -not -path './build/*' -not -path './bin/*') go.mod go.sum

.PHONY: all build run run-llm run-files bench-ab bench-llm bench-llm-collector bench-kafka eval-llm fuzz test go-test dist-test e2e generate lint bench bench-collector eval fmt vet tidy clean soak

all: build

$(OCB):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	@mkdir -p $(BIN)
	cd internal/tools && $(GO) build -o $(BIN)/mdatagen go.opentelemetry.io/collector/cmd/mdatagen

$(GOLANGCI):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)

## build: build the otelcol-aiops distribution with ocb into ./bin/otelcol-aiops
build: $(DIST)

$(DIST): $(OCB) builder-config.yaml $(GO_SOURCES)
	@mkdir -p build
	$(OCB) --config builder-config.yaml
	cp build/otelcol-aiops/otelcol-aiops $(DIST)

## run: build the distribution and run the whole chain on the bundled demo (Ctrl-C to stop): the
## fault-injection simulator (cmd/aiops-sim, default shop, orders-db pool exhaustion at minute 18 of
## event time, 30x speed) sends OTLP logs and traces to the collector, which prints anomalies, edges
## and, about 40 s after the start, the incident with its root cause. Lines of normal records are
## hidden. Event time ends at the start time, so no timestamp is in the future.
run: build $(BIN)/aiops-sim
	( $(BIN)/aiops-sim -target orders-db -start $$(date -u -d '-25 min' +%Y-%m-%dT%H:%M:%SZ) >&2 & ); set -o pipefail; $(DIST) --config testdata/demo/config.yaml 2>&1 | grep --line-buffered -v 'anomaly.detected=false'

## run-llm: `make run` with the LLM stage on (testdata/demo/llm-config.yaml), against the
## OpenAI-compatible server named by LLM_ENDPOINT (default http://localhost:11434/v1, a local
## Ollama), LLM_MODEL (default llama3.1:8b) and LLM_API_KEY (empty for local servers). Verdict
## records and the incident's narrative follow the statistical results when the answers arrive.
run-llm: build $(BIN)/aiops-sim
	( $(BIN)/aiops-sim -target orders-db -start $$(date -u -d '-25 min' +%Y-%m-%dT%H:%M:%SZ) >&2 & ); set -o pipefail; $(DIST) --config testdata/demo/llm-config.yaml 2>&1 | grep --line-buffered -v 'anomaly.detected=false'

## run-files: the file demo: bundled log files of three services (file_log receiver) and bundled
## traces (cmd/demotraces posts them once the collector is up).
run-files: build $(BIN)/demotraces
	( $(BIN)/demotraces >&2 & ); set -o pipefail; $(DIST) --config testdata/demo/files-config.yaml 2>&1 | grep --line-buffered -v 'anomaly.detected=false'

$(BIN)/demotraces: $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/demotraces

## test: every test: vet, unit/component tests with the race detector (fuzz seed corpora included),
## then build the distribution and validate the demo configuration with it.
test: vet go-test dist-test e2e

go-test:
	$(GO) test -race -count=1 ./...

dist-test: build
	$(DIST) validate --config testdata/demo/config.yaml
	$(DIST) validate --config testdata/demo/files-config.yaml
	$(DIST) validate --config testdata/metrics/config.yaml
	$(DIST) validate --config testdata/demo/llm-config.yaml
	set -e; for f in deploy/configs/*.yaml; do echo "validate $$f"; $(DIST) validate --config $$f; done

## e2e: the built collector receives a simulated fault over OTLP and must name its root cause;
## then the same replay, run three times (twice alike, once at another speed with other request
## boundaries and reordered requests), must forward byte-identical incidents (internal/e2etest)
e2e: build $(BIN)/aiops-sim
	bash scripts/e2e.sh
	COLLECTOR=$(DIST) $(GO) test -tags e2e -count=1 -timeout 20m -v ./internal/e2etest/

$(BIN)/aiops-sim: $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/aiops-sim

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./internal/e2etest/

## generate: regenerate mdatagen code (status, telemetry, generated tests, documentation.md)
generate: $(MDATAGEN)
	PATH=$(BIN):$$PATH $(GO) generate ./...

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './build/*')

tidy:
	$(GO) mod tidy

## bench: micro and component benchmarks (one core)
bench:
	AIOPS_DATA=$(DATA)/loghub2k GOMAXPROCS=1 $(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/... ./processor/...

## bench-collector: whole-collector OTLP/HTTP throughput and CPU with and without llm_anomaly
## (two pinned cores, a few minutes; figures in docs/benchmarks.md)
bench-collector: build
	$(GO) build -o $(BIN)/otlpload ./cmd/otlpload
	COLLECTOR=$(DIST) OTLPLOAD=$(BIN)/otlpload scripts/bench-collector.sh

## bench-ab: one Go benchmark of the working tree against BASE=<git ref>, both running at once on
## two pinned cores, cores swapped each round (default: the processor's record path on the load
## generator's requests; BENCH, PKG, ROUNDS, BENCHTIME; docs/benchmarks.md)
bench-ab:
	GO=$(GO) scripts/bench-ab.sh

## soak: run the built collector (make build first) on the demo pipeline under sustained simulator
## load for SOAK_DURATION (default 10m), sampling accepted records, records/s, RSS and goroutines
## every SOAK_INTERVAL (default 30s); ends with a verdict whether RSS and goroutines stayed flat
soak: | $(BIN)/aiops-sim
	COLLECTOR=$(DIST) SIM=$(BIN)/aiops-sim scripts/soak.sh

## eval: parsing accuracy (Loghub-2k), anomaly detection accuracy (BGL, HDFS), root-cause
## accuracy over simulated fault-injection scenarios and over a labelled day of a real system
eval:
	$(GO) run ./cmd/evalparse -data $(DATA)/loghub2k
	$(GO) run ./cmd/evalanomaly -data $(DATA)
	$(GO) run ./cmd/evalrca -n 36
	$(GO) run ./cmd/evalrca -low-traffic -n 12
	$(GO) run ./cmd/evalrca -realistic -n 12
	$(GO) run ./cmd/evalreal -data $(DATA)/nezha-tt-0130
	$(GO) run ./cmd/evalreal -data $(DATA)/nezha-tt-0130 -graph-replicas 2

## bench-llm: the LLM stage's cost and effect against an in-process counting fake model (HDFS,
## BGL, realistic simulator): calls, tokens and cost per 1M lines, cache hit rate, F1 with and
## without it; then with a hanging model, CPU per record against statistical-only and lost records
bench-llm:
	$(GO) run ./cmd/evalllm -data $(DATA)
	$(GO) run ./cmd/evalllm -data $(DATA) -hang

## fuzz: every fuzz target for FUZZTIME each (default 30s); their seed corpora already run in make test
FUZZTIME ?= 30s
fuzz:
	@set -e; for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs grep -h -o '^func Fuzz[A-Za-z0-9_]*' | sort -u | sed 's/^func //'); do \
		pkg=$$(dirname $$(grep -rl --include='*_test.go' "^func $$t(" . | head -1)); \
		echo "== $$t ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench-llm-collector: whole-collector CPU and throughput with the processor's LLM stage on and
## the model hanging, against the statistical-only processor (scripts/bench-collector.sh WITH_LLM=1)
bench-llm-collector: build
	$(GO) build -o $(BIN)/otlpload ./cmd/otlpload
	WITH_LLM=1 COLLECTOR=$(DIST) OTLPLOAD=$(BIN)/otlpload scripts/bench-collector.sh

## bench-kafka: the scaled-out layout (agent -> Kafka -> analysis tier -> Kafka -> rca) on an
## in-process broker: the analysis tier's CPU time per record with one and two collectors in the
## consumer group, and the smaller instance's share (docs/reliability.md; a few minutes)
bench-kafka: build
	COLLECTOR=$(DIST) $(GO) test -tags e2e -run '^$$' -bench KafkaAnalysisTier -benchtime 1x -count 3 -timeout 30m ./internal/e2etest/

## eval-llm: against a real model (LLM_ENDPOINT, LLM_PROVIDER: openai, anthropic or ollama,
## LLM_MODEL, LLM_API_KEY): the anomaly replay with the processor's LLM stage (tokens, F1), the
## simulated RCA scenarios with the exporter's narratives (how often the narrative names the
## root cause beside AC@k), then the contract test of the client
eval-llm:
	@test -n "$$LLM_ENDPOINT" || { echo "eval-llm: set LLM_ENDPOINT (and LLM_MODEL, LLM_PROVIDER, LLM_API_KEY)"; exit 2; }
	$(GO) run ./cmd/evalllm -data $(DATA)
	$(GO) run ./cmd/evalrca -n 12 -llm
	$(GO) run ./cmd/evalrca -realistic -n 12 -llm
	$(GO) test -tags contract -count=1 -run Contract -v ./internal/llm/

clean:
	rm -rf build bin
