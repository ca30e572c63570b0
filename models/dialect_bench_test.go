package models

import (
	"context"
	"sort"
	"testing"
	"time"
)

// BenchmarkDemoSearch times searches on the demo data set on the engine
// PORTAL_TEST_DATABASE_URL names (SQLite without it), reporting the median
// of each term, so the engines can be compared in one run:
//
//	go test -run '^$' -bench DemoSearch ./models/
//	PORTAL_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench DemoSearch ./models/
func BenchmarkDemoSearch(b *testing.B) {
	ctx := context.Background()
	s := openTestStore(b)
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := s.LoadDemoData(ctx); err != nil {
		b.Fatal(err)
	}
	for _, term := range []string{"社保", "养老", "身份证", "营业执照", "公积金提取", "证"} {
		b.Run(term, func(b *testing.B) {
			var times []time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				res, err := s.FindGuides(ctx, GuideFilter{Query: term})
				if err != nil {
					b.Fatal(err)
				}
				if res.Total == 0 {
					b.Fatalf("%s: nothing found", term)
				}
				times = append(times, time.Since(start))
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
