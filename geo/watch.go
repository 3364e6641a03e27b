package geo

import (
	"context"
	"slices"
	"time"
)

// Watch polls the files' size and modification time every `every` (a minute
// if every <= 0) and reloads when any changed, calling onReload (if not nil)
// with the outcome of each attempt. A failed attempt is not retried until the
// files change again, so a broken file is reported once, not every poll. It
// returns when ctx is done.
func (d *DB) Watch(ctx context.Context, every time.Duration, onReload func(error)) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var failed []stamp // the files as they were when a reload last failed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := d.stat()
		if slices.Equal(now, d.cur.Load().stamps) || slices.Equal(now, failed) {
			continue
		}
		err := d.Reload()
		failed = nil
		if err != nil {
			failed = now
		}
		if onReload != nil {
			onReload(err)
		}
	}
}

func (d *DB) stat() []stamp {
	out := make([]stamp, len(d.paths))
	for i, p := range d.paths {
		out[i], _ = statFile(p) // a missing file is a change; Reload reports it
	}
	return out
}
