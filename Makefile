# Likeness — `make run` and `make test` are all a fresh Debian machine needs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= data
FACES ?= ../shared/faces

.PHONY: all deps build widget run test check fmt-check vet gotest widget-test eval bench clean

all: build

deps:
	@./scripts/deps.sh

widget: deps
	npm run --silent build

build: deps widget
	$(GO) build -o bin/likeness ./cmd/likeness

run: build
	./bin/likeness serve --addr $(ADDR) --data $(DATA) --demo

test: build check gotest widget-test

check: fmt-check vet

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

bench: build
	$(GO) test ./engine -run '^$$' -bench . -cpu 1 -benchtime 50x
	./bin/likeness bench engine --faces $(FACES)

clean:
	rm -rf bin
