package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// apiTarget is one server the load generator drives.
type apiTarget struct {
	name     string
	endpoint string // http://host:port
	creds    aws.Credentials
	region   string
	pid      int // the server process, when the benchmark started it
}

// apiRequest is one request to send: method, path (already escaped) and
// body (nil: none).
type apiRequest struct {
	method, path string
	body         []byte
}

// apiOp names an operation and makes its n-th request for worker w.
type apiOp struct {
	name string
	make func(w, n int) apiRequest
}

// apiResult is what one measured run of an operation against a target gave.
type apiResult struct {
	op, target string
	requests   int
	errors     int
	firstErr   string
	elapsed    time.Duration
	p50, p99   time.Duration
	max        time.Duration
}

func (r apiResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// apiClient returns an HTTP client that keeps one connection per worker
// alive.
func apiClient(workers int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			MaxConnsPerHost:     workers * 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
}

// apiSend signs req for t with Signature V4 (a fresh signature per
// request, as SDKs do) and sends it; it returns an error for a transport
// failure or a non-2xx status.
func apiSend(ctx context.Context, hc *http.Client, signer *v4.Signer, t apiTarget, req apiRequest) error {
	var body io.Reader = http.NoBody
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, t.endpoint+req.path, body)
	if err != nil {
		return err
	}
	if req.body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(req.body)
	if err := signer.SignHTTP(ctx, t.creds, r, hex.EncodeToString(sum[:]), "backup", t.region, time.Now()); err != nil {
		return err
	}
	resp, err := hc.Do(r)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if len(data) > 200 {
			data = data[:200]
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", req.method, req.path, resp.StatusCode, data)
	}
	return nil
}

// apiRun drives op against t with workers concurrent workers over
// keep-alive connections for d (after a warm-up of warm, not measured) and
// returns throughput and latency percentiles.
func apiRun(ctx context.Context, t apiTarget, op apiOp, workers int, warm, d time.Duration) apiResult {
	hc := apiClient(workers)
	defer hc.CloseIdleConnections()
	signer := v4.NewSigner()
	res := apiResult{op: op.name, target: t.name}

	type workerOut struct {
		lat      []time.Duration
		errors   int
		firstErr string
	}
	outs := make([]workerOut, workers)
	var start time.Time
	var startOnce sync.Once
	measuring := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[w]
			o.lat = make([]time.Duration, 0, 1<<14)
			measured := false
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-measuring:
					measured = true
				default:
				}
				t0 := time.Now()
				err := apiSend(ctx, hc, signer, t, op.make(w, n))
				lat := time.Since(t0)
				select {
				case <-stop: // finished after the measured interval
					return
				default:
				}
				if !measured {
					continue
				}
				o.lat = append(o.lat, lat)
				if err != nil {
					o.errors++
					if o.firstErr == "" {
						o.firstErr = err.Error()
					}
				}
			}
		}()
	}
	time.Sleep(warm)
	startOnce.Do(func() { start = time.Now(); close(measuring) })
	time.Sleep(d)
	close(stop)
	res.elapsed = time.Since(start)
	wg.Wait()

	var all []time.Duration
	for _, o := range outs {
		all = append(all, o.lat...)
		res.errors += o.errors
		if res.firstErr == "" {
			res.firstErr = o.firstErr
		}
	}
	res.requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		res.p50 = all[len(all)*50/100]
		res.p99 = all[min(len(all)-1, len(all)*99/100)]
		res.max = all[len(all)-1]
	}
	return res
}
