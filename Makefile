# Likeness — `make run` and `make test` are all a fresh Debian machine needs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= data
FACES ?= ../shared/faces

.PHONY: all deps build widget run test check fmt-check vet gotest widget-test widget-check eval bench clean

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

check: fmt-check vet widget-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The built widget is committed (go:embed needs it in a fresh clone); it
# must be exactly what `npm run build` makes from widget/.
widget-check:
	@if [ -n "$$(git status --porcelain -- static 2>/dev/null)" ] && git rev-parse HEAD >/dev/null 2>&1; then \
	  echo "static/ differs from what npm run build makes: commit the rebuilt widget"; git status --short -- static; exit 1; fi

gotest:
	$(GO) test -race -count=1 ./...

widget-test:
	npm test

eval: build
	./bin/likeness eval --faces $(FACES) --json

bench: build
	$(GO) test ./engine -run '^$$' -bench . -cpu 1 -benchtime 50x
	./bin/likeness bench engine --faces $(FACES)

clean:
	rm -rf bin
