package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func tooManyTags(arn string, n int) error {
	return backup.LimitExceededf("%s would have %d tags; a resource can have at most %d", arn, n, meta.MaxTagsPerResource)
}

// putTags upserts tags of arn, enforcing the per-resource limit.
func (t *wtx) putTags(arn string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	var have int
	if err := t.queryRow(`SELECT COUNT(*) FROM tags WHERE arn = ?`, arn).Scan(&have); err != nil {
		return dbErr("read", err)
	}
	added := 0
	for k := range tags {
		var one int
		err := t.queryRow(`SELECT 1 FROM tags WHERE arn = ? AND key = ?`, arn, k).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			added++
		} else if err != nil {
			return dbErr("read", err)
		}
	}
	if have+added > meta.MaxTagsPerResource {
		return tooManyTags(arn, have+added)
	}
	for k, v := range tags {
		if _, err := t.exec(`INSERT INTO tags (arn, key, value) VALUES (?, ?, ?) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value`, arn, k, v); err != nil {
			return err
		}
	}
	return nil
}

// ListTags implements meta.TagStore.
func (s *Store) ListTags(ctx context.Context, arn string) (_ map[string]string, err error) {
	rows, err := s.read(ctx, `SELECT key, value FROM tags WHERE arn = ?`, arn)
	if err != nil {
		return nil, err
	}
	defer closeRows(rows, &err)
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, dbErr("read", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read", err)
	}
	return out, nil
}

// TagResource implements meta.TagStore.
func (s *Store) TagResource(ctx context.Context, arn string, tags map[string]string) error {
	if arn == "" {
		return backup.MissingParameterf("the resource ARN is empty")
	}
	if len(tags) > meta.MaxTagsPerResource {
		return tooManyTags(arn, len(tags))
	}
	return s.tx(ctx, func(t *wtx) error { return t.putTags(arn, tags) })
}

// UntagResource implements meta.TagStore.
func (s *Store) UntagResource(ctx context.Context, arn string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return s.tx(ctx, func(t *wtx) error {
		for _, k := range keys {
			if _, err := t.exec(`DELETE FROM tags WHERE arn = ? AND key = ?`, arn, k); err != nil {
				return err
			}
		}
		return nil
	})
}
