# The portal needs cgo (SQLite) and SQLite's FTS5 module, which mattn/go-sqlite3
# compiles only with the sqlite_fts5 build tag: every go command here gets it.
export CGO_ENABLED := 1
export GOFLAGS := $(strip $(GOFLAGS) -tags=sqlite_fts5)

BIN := bin/portal
ADDR ?= :8080
DB ?= data/portal.db

.PHONY: run build generate test test-load fuzz test-postgres test-mysql e2e lint check-generated bench bench-smoke bench-search clean

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

## e2e: the browser suite: Debian's chromium through the flows and every page, axe-core on each
e2e: testdata/e2e/node_modules/.package-lock.json
	go test -tags 'sqlite_fts5 e2e' -count=1 -timeout 20m -run '^TestBrowser' ./handlers/

# axe-core exactly as the committed lock file pins it.
testdata/e2e/node_modules/.package-lock.json: testdata/e2e/package.json testdata/e2e/package-lock.json
	cd testdata/e2e && npm ci --no-audit --no-fund
	@touch $@
# Servers for the dialect suites; each test creates and drops its own database.
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
MYSQL_TEST_URL ?= mysql://root@127.0.0.1:3306/mysql

## test-postgres: the model, handler and command tests again, on PostgreSQL (a fresh database per test)
test-postgres:
	PORTAL_TEST_DATABASE_URL='$(PG_TEST_URL)' go test -count=1 -timeout 30m ./models/ ./handlers/ ./cmd/portal/

## test-mysql: the model, handler and command tests again, on MySQL/MariaDB (a fresh database per test)
test-mysql:
	PORTAL_TEST_DATABASE_URL='$(MYSQL_TEST_URL)' go test -count=1 -timeout 30m ./models/ ./handlers/ ./cmd/portal/
## test-load: 200 phones rate for 30 s, then again with a SIGKILL half-way:
## every acknowledged rating is stored exactly once (make test runs 3 s)
test-load:
	LOAD_DURATION=30s go test -count=1 -v -run 'TestLoadKeepsEveryRating|TestCrashKeepsEveryAcknowledgedRating' ./cmd/portal/

## fuzz: each fuzz target for a fixed number of inputs (about 5 s each here), one go test per
## target. A count, not a duration: Go 1.26's fuzzer can fail a target with "context deadline
## exceeded" when a duration ends mid-input (golang/go#75804, fixed in Go 1.27).
FUZZRUNS ?= 1
fuzz:
	go test -run '^$$' -fuzz '^FuzzSearchQuery$$' -fuzztime $$((15000 * $(FUZZRUNS)))x ./models/
	go test -run '^$$' -fuzz '^FuzzRatingForm$$' -fuzztime $$((10000 * $(FUZZRUNS)))x ./models/
	go test -run '^$$' -fuzz '^FuzzAdminForms$$' -fuzztime $$((6000 * $(FUZZRUNS)))x ./models/
	go test -run '^$$' -fuzz '^FuzzCaseLookup$$' -fuzztime $$((8000 * $(FUZZRUNS)))x ./models/
	go test -run '^$$' -fuzz '^FuzzGuideFormBody$$' -fuzztime $$((30000 * $(FUZZRUNS)))x ./handlers/

## lint: go vet, gofmt and templ fmt must have nothing to say
lint:
	go vet ./...
	go vet -tags 'sqlite_fts5 e2e' ./handlers/
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@out=$$(go tool templ fmt -fail . 2>&1) || { echo "templ fmt would change:"; echo "$$out"; exit 1; }

## check-generated: fail if the committed *_templ.go files are stale
check-generated:
	go tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "stale *_templ.go: run 'make generate' and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- '*_templ.go'); \
	  if [ -n "$$untracked" ]; then echo "uncommitted generated files:"; echo "$$untracked"; exit 1; fi

## bench: issue 8's benchmark: generates (once, cached in bench/) 100,000 items,
## 1,000 counters and 10 million ratings, then measures the portal against
## nginx, a minimal Go server and a prepared-INSERT handler; needs wrk and
## nginx-light (apt-get install wrk nginx-light). Results: bench/results-full.md
bench:
	go run ./cmd/portal-bench run -size full

## bench-smoke: the same on small data with short phases (CI): fails only if broken
bench-smoke:
	go run ./cmd/portal-bench run -size smoke

## bench-search: the search micro-benchmarks on 100,000 items, with the LIKE-scan baseline
bench-search:
	go test -run '^$$' -bench . -benchtime 2s ./models/

clean:
	rm -rf bin
