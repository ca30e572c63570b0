package main

import (
	"testing"
	"time"
)

// wrk 4.2's output, as Debian's wrk prints it with --latency.
const wrkOutput = `Running 2s test @ http://127.0.0.1:39999/home.html
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    2.11ms  43.32ms   95.12%
    Req/Sec    15.85k     2.10k   19.80k    70.00%
  Latency Distribution
     50%  740.00us
     75%    1.01ms
     90%    1.52ms
     99%   12.50ms
  63018 requests in 2.00s, 1.23GB read
  Non-2xx or 3xx responses: 18
Requests/sec:  31509.00
Transfer/sec:    615.12MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 31509 || r.requests != 63000 || r.failures != 18 ||
		r.p50 != 740*time.Microsecond || r.p99 != 12500*time.Microsecond {
		t.Fatalf("%+v", r)
	}
	if _, err := parseWrk("wrk: connection refused"); err == nil {
		t.Fatal("garbage parsed")
	}
}
