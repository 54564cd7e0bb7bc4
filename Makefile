# Likeness — `make run` and `make test` are all a fresh Debian machine needs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= data
FACES ?= ../shared/faces
LFW ?= ../shared/lfw
AGE_FACES ?= ../shared/age
NUAA ?= ../shared/nuaa
# The templ CLI that generates templates/*_templ.go; pinned to go.mod's templ.
TEMPL_VERSION := v0.3.977
TEMPL = "$$($(GO) env GOPATH)/bin/templ"
# The Weaviate server the Weaviate tests run (built once per machine, 3–6 min).
WEAVIATE_VERSION := v1.35.2
WEAVIATE_BIN ?= $(HOME)/.cache/likeness/bin/weaviate-server
export LIKENESS_WEAVIATE_BIN := $(WEAVIATE_BIN)

.PHONY: all deps build widget run test check fmt-check vet gotest widget-test eval bench clean templ-cli templ templ-check weaviate bench-index bench-load

all: build

deps:
	@./scripts/deps.sh

widget: deps
	npm run --silent build

build: deps widget
	$(GO) build -o bin/likeness ./cmd/likeness

run: build
	./bin/likeness serve --addr $(ADDR) --data $(DATA) --demo

test: build check weaviate gotest widget-test

# Builds weaviate-server for the Weaviate tests, only when it is missing.
weaviate: $(WEAVIATE_BIN)

$(WEAVIATE_BIN):
	@echo "building weaviate-server $(WEAVIATE_VERSION) (once per machine, a few minutes)"
	GOBIN=$(dir $(WEAVIATE_BIN)) $(GO) install github.com/weaviate/weaviate/cmd/weaviate-server@$(WEAVIATE_VERSION)

check: fmt-check vet templ-check

# Installs the pinned templ CLI when it is missing or another version.
templ-cli:
	@if [ "$$($(TEMPL) version 2>/dev/null)" != "$(TEMPL_VERSION)" ]; then \
		echo "installing templ $(TEMPL_VERSION)"; $(GO) install github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION); fi

# Regenerates templates/*_templ.go from templates/*.templ (commit both).
templ: templ-cli
	$(TEMPL) generate -path templates

# Fails when templ generate changes templates/*_templ.go: the generated code
# must be committed fresh. (Compared with the files as they were, so it also
# works with uncommitted .templ changes; in CI's clean checkout it is
# `git diff --exit-code -- templates` after generating.)
templ-check: templ-cli
	@before=$$(cat templates/*_templ.go | sha256sum); \
	$(TEMPL) generate -path templates >/dev/null 2>&1 || { echo "templ generate failed"; exit 1; }; \
	if [ "$$before" != "$$(cat templates/*_templ.go | sha256sum)" ]; then \
		git --no-pager diff --stat -- templates; \
		echo "templates/*_templ.go were stale: run 'make templ' and commit them"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

gotest:
	$(GO) test -race -count=1 ./...

# Widget unit and browser tests (they also check static/ is the fresh build),
# then the end-to-end tests against the real binary in Chromium.
widget-test:
	npm test
	npm run test:e2e

eval: build
	./bin/likeness eval --faces $(FACES) --json
	./bin/likeness eval --identify --faces $(LFW) --json
	./bin/likeness eval --age --faces $(AGE_FACES) --json
	./bin/likeness eval --pad --faces $(FACES) --json
	./bin/likeness eval --pad --faces $(NUAA) --json

bench: build
	$(GO) test ./engine -run '^$$' -bench . -cpu 1 -benchtime 50x
	./bin/likeness bench engine --faces $(FACES)

# Vector index speed, recall and memory (docs/scale.md); the million-face run
# takes about 15 minutes, Weaviate at 100k about 10.
bench-index: build weaviate
	./bin/likeness bench index --store embedded --n 10000,100000,1000000 --faces $(FACES) --json
	./bin/likeness bench index --store weaviate --n 10000,100000 --json

# Concurrent widget sessions against `likeness serve`.
bench-load: build
	./bin/likeness bench load --n 1,10,50,100 --faces $(FACES) --json

clean:
	rm -rf bin
