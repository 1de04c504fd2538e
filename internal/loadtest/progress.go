package loadtest

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether w is a terminal, where progress can rewrite one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// showProgress reports the run's progress until the returned function is called: requests
// sent, their rate, the errors the IdP saw (429, 5xx, no answer; it retries them), and the
// lifecycles done with an estimate of the time left. On a terminal it rewrites one line;
// elsewhere (CI logs, pipes) it writes a line every 10 s.
func (r *loadRun) showProgress(start time.Time) (stop func()) {
	w := r.o.progress
	if w == nil {
		return func() {}
	}
	tty := isTerminal(w)
	every := r.o.progressEvery
	if every <= 0 {
		every = 10 * time.Second
		if tty {
			every = 500 * time.Millisecond
		}
	}
	total := int64(len(r.w.users) + len(r.w.groups))
	line := func() string {
		elapsed := time.Since(start)
		sent, errs, done := r.d.sent.Load(), r.d.failures.Load(), r.w.done.Load()
		eta := "-"
		if done > 0 && done < total {
			eta = (time.Duration(float64(elapsed) / float64(done) * float64(total-done))).Round(time.Second).String()
		} else if done >= total {
			eta = "0s"
		}
		return fmt.Sprintf("load: %d requests, %.0f/s, %d errors (429/5xx/no answer, retried), %d/%d lifecycles done, %s elapsed, ETA %s",
			sent, float64(sent)/max(elapsed.Seconds(), 1e-9), errs, done, total, elapsed.Round(time.Second), eta)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if tty {
					fmt.Fprint(w, "\r"+line()+"\x1b[K")
				} else {
					fmt.Fprintln(w, line())
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		final := line()
		if tty {
			fmt.Fprint(w, "\r"+final+"\x1b[K\n")
		} else {
			fmt.Fprintln(w, final)
		}
		fmt.Fprintln(w, "load: traffic done; checking Domo against what the bridge answered"+strings.Repeat(".", 3))
	}
}
