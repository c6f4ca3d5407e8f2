package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer/coffer/internal/blob"
)

// probeName is the object Probe asks about. It never exists: the answer
// "not found" proves that the storage answers.
const probeName = "coffer-probe"

// Probe checks cheaply that a region's storage answers: one Stat of an
// object that does not exist (a file lookup on local disk, a HEAD request
// on S3). It returns nil when the storage answered, an error wrapping
// ErrRegionNotServed for a region without storage, and otherwise the
// storage's error (with the region store's retries, if it has any, within
// ctx). Callers bound ctx: StartCopyJob probes the destination region
// before it accepts a copy.
func (m *Manager) Probe(ctx context.Context, region string) error {
	st, ok := m.regions[region]
	if !ok {
		return fmt.Errorf("%w: %s", ErrRegionNotServed, region)
	}
	_, err := st.Stat(ctx, probeName)
	if err == nil || errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("storage of region %s (%s) does not answer: %w", region, st.Location(), err)
}
