# The portal needs cgo (SQLite) and SQLite's FTS5 module, which mattn/go-sqlite3
# compiles only with the sqlite_fts5 build tag: every go command here gets it.
export CGO_ENABLED := 1
export GOFLAGS := $(strip $(GOFLAGS) -tags=sqlite_fts5)

BIN := bin/portal
ADDR ?= :8080
DB ?= data/portal.db

.PHONY: run build generate test test-load fuzz lint check-generated bench clean

## run: build and serve the portal at http://localhost:8080 with the demo data set
run: build
	@mkdir -p $(dir $(DB))
	$(BIN) serve -addr $(ADDR) -db $(DB) -demo

## build: compile the portal binary into bin/
build: generate
	go build -o $(BIN) ./cmd/portal

## generate: regenerate the templ views (*_templ.go, committed)
generate:
	go tool templ generate

## test: run every test with the race detector on a real SQLite file per test
test:
	go test -race -count=1 ./...

## test-load: 200 phones rate for 30 s, then again with a SIGKILL half-way:
## every acknowledged rating is stored exactly once (make test runs 3 s)
test-load:
	LOAD_DURATION=30s go test -count=1 -v -run 'TestLoadKeepsEveryRating|TestCrashKeepsEveryAcknowledgedRating' ./cmd/portal/

## fuzz: each fuzz target for a few seconds (FUZZTIME), one go test per target
FUZZTIME ?= 5s
fuzz:
	go test -run '^$$' -fuzz '^FuzzSearchQuery$$' -fuzztime $(FUZZTIME) ./models/
	go test -run '^$$' -fuzz '^FuzzRatingForm$$' -fuzztime $(FUZZTIME) ./models/
	go test -run '^$$' -fuzz '^FuzzAdminForms$$' -fuzztime $(FUZZTIME) ./models/
	go test -run '^$$' -fuzz '^FuzzCaseLookup$$' -fuzztime $(FUZZTIME) ./models/
	go test -run '^$$' -fuzz '^FuzzGuideFormBody$$' -fuzztime $(FUZZTIME) ./handlers/

## lint: go vet, gofmt and templ fmt must have nothing to say
lint:
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@out=$$(go tool templ fmt -fail . 2>&1) || { echo "templ fmt would change:"; echo "$$out"; exit 1; }

## check-generated: fail if the committed *_templ.go files are stale
check-generated:
	go tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "stale *_templ.go: run 'make generate' and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- '*_templ.go'); \
	  if [ -n "$$untracked" ]; then echo "uncommitted generated files:"; echo "$$untracked"; exit 1; fi

## bench: search benchmarks on 100,000 generated service items, with baselines
bench:
	go test -run '^$$' -bench . -benchtime 2s ./models/

clean:
	rm -rf bin
