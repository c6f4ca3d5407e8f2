package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func protectedNotFound(arn string) func() error {
	return func() error { return backup.NotFoundf("protected resource %s not found", arn) }
}

func resourceNotFound(arn string) func() error {
	return func() error { return backup.NotFoundf("resource %s not found", arn) }
}

// UpsertProtectedResource implements meta.ProtectedResourceStore.
func (s *Store) UpsertProtectedResource(ctx context.Context, arn string, fn func(*backup.ProtectedResource, bool) error) (backup.ProtectedResource, error) {
	if arn == "" {
		return backup.ProtectedResource{}, backup.MissingParameterf("the resource ARN is empty")
	}
	var out backup.ProtectedResource
	err := s.tx(ctx, func(t *wtx) error {
		var data string
		var pr backup.ProtectedResource
		exists := true
		err := t.queryRow(`SELECT data FROM protected_resources WHERE arn = ?`, arn).Scan(&data)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			exists = false
			pr = backup.ProtectedResource{ResourceArn: arn}
		case err != nil:
			return dbErr("read", err)
		default:
			if err := decode(data, &pr); err != nil {
				return err
			}
		}
		if err := fn(&pr, exists); err != nil {
			return err
		}
		if pr.ResourceArn != arn {
			return backup.InvalidRequestf("a protected resource's ARN cannot be changed")
		}
		enc, err := encode(&pr)
		if err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO protected_resources (arn, region, account, resource_type, data) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (arn) DO UPDATE SET region = excluded.region, account = excluded.account, resource_type = excluded.resource_type, data = excluded.data`,
			arn, pr.Region, pr.AccountID, string(pr.ResourceType), enc)
		out = pr
		return err
	})
	return out, err
}

// GetProtectedResource implements meta.ProtectedResourceStore.
func (s *Store) GetProtectedResource(ctx context.Context, arn string) (backup.ProtectedResource, error) {
	row, err := s.readRow(ctx, `SELECT data FROM protected_resources WHERE arn = ?`, arn)
	if err != nil {
		return backup.ProtectedResource{}, err
	}
	var data string
	if err := row.Scan(&data); err != nil {
		return backup.ProtectedResource{}, scanErr(err, protectedNotFound(arn))
	}
	var pr backup.ProtectedResource
	err = decode(data, &pr)
	return pr, err
}

// ListProtectedResources implements meta.ProtectedResourceStore.
func (s *Store) ListProtectedResources(ctx context.Context, f meta.ProtectedResourceFilter, p meta.Page) (_ []backup.ProtectedResource, _ string, err error) {
	limit, cur, ok, err := pageArgs("protected-resources", p)
	if err != nil {
		return nil, "", err
	}
	var w where
	if f.Region != "" {
		w.add("p.region = ?", f.Region)
	}
	if f.AccountID != "" {
		w.add("p.account = ?", f.AccountID)
	}
	if f.Vault != nil {
		w.add(`EXISTS (SELECT 1 FROM recovery_points r WHERE r.region = ? AND r.account = ? AND r.vault_name = ? AND r.resource_arn = p.arn)`,
			f.Vault.Region, f.Vault.AccountID, f.Vault.Name)
	}
	if ok {
		w.add("p.arn > ?", cur.K)
	}
	return readPage(ctx, s, `SELECT p.data FROM protected_resources p`+w.sql()+` ORDER BY p.arn`, w.args, limit,
		scanData[backup.ProtectedResource],
		func(pr backup.ProtectedResource) meta.Cursor {
			return meta.Cursor{Scope: "protected-resources", K: pr.ResourceArn}
		})
}

func checkResource(r *backup.Resource) error {
	if r.ARN == "" || r.Region == "" || r.AccountID == "" || r.Type == "" {
		return backup.MissingParameterf("a resource needs an ARN, a type, a region and an account")
	}
	return nil
}

// CreateResource implements meta.ResourceStore.
func (s *Store) CreateResource(ctx context.Context, r backup.Resource) error {
	if err := checkResource(&r); err != nil {
		return err
	}
	data, err := encode(&r)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(t *wtx) error {
		var one int
		err := t.queryRow(`SELECT 1 FROM resources WHERE arn = ?`, r.ARN).Scan(&one)
		if err == nil {
			return &backup.Error{Kind: backup.KindAlreadyExists, Message: "resource " + r.ARN + " already exists", Arn: r.ARN}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("read", err)
		}
		if r.CreationToken != "" {
			var other string
			err := t.queryRow(`SELECT arn FROM resources WHERE region = ? AND account = ? AND creation_token = ?`, r.Region, r.AccountID, r.CreationToken).Scan(&other)
			if err == nil {
				return &backup.Error{Kind: backup.KindAlreadyExists, Message: "a resource with creation token " + r.CreationToken + " already exists", Arn: other}
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return dbErr("read", err)
			}
		}
		_, err = t.exec(`INSERT INTO resources (arn, region, account, type, origin, creation_token, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ARN, r.Region, r.AccountID, string(r.Type), r.Origin, r.CreationToken, data)
		return err
	})
}

// PutResource implements meta.ResourceStore.
func (s *Store) PutResource(ctx context.Context, r backup.Resource) error {
	if err := checkResource(&r); err != nil {
		return err
	}
	data, err := encode(&r)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO resources (arn, region, account, type, origin, creation_token, data) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (arn) DO UPDATE SET region = excluded.region, account = excluded.account, type = excluded.type, origin = excluded.origin, creation_token = excluded.creation_token, data = excluded.data`,
			r.ARN, r.Region, r.AccountID, string(r.Type), r.Origin, r.CreationToken, data)
		return err
	})
}

// GetResource implements meta.ResourceStore.
func (s *Store) GetResource(ctx context.Context, arn string) (backup.Resource, error) {
	row, err := s.readRow(ctx, `SELECT data FROM resources WHERE arn = ?`, arn)
	if err != nil {
		return backup.Resource{}, err
	}
	var data string
	if err := row.Scan(&data); err != nil {
		return backup.Resource{}, scanErr(err, resourceNotFound(arn))
	}
	var r backup.Resource
	err = decode(data, &r)
	return r, err
}

// ListResources implements meta.ResourceStore.
func (s *Store) ListResources(ctx context.Context, f meta.ResourceFilter, p meta.Page) (_ []backup.Resource, _ string, err error) {
	limit, cur, ok, err := pageArgs("resources", p)
	if err != nil {
		return nil, "", err
	}
	var w where
	for _, c := range [...]struct{ col, v string }{{"region", f.Region}, {"account", f.AccountID}, {"type", string(f.Type)}, {"origin", f.Origin}, {"creation_token", f.CreationToken}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	if ok {
		w.add("arn > ?", cur.K)
	}
	return readPage(ctx, s, `SELECT data FROM resources`+w.sql()+` ORDER BY arn`, w.args, limit,
		scanData[backup.Resource],
		func(r backup.Resource) meta.Cursor { return meta.Cursor{Scope: "resources", K: r.ARN} })
}

// DeleteResource implements meta.ResourceStore.
func (s *Store) DeleteResource(ctx context.Context, arn string) error {
	return s.tx(ctx, func(t *wtx) error {
		res, err := t.exec(`DELETE FROM resources WHERE arn = ?`, arn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("write", err)
		} else if n == 0 {
			return resourceNotFound(arn)()
		}
		return nil
	})
}
