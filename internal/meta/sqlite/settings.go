package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffer/coffer/internal/backup"
)

// GetRegionSettings implements meta.SettingsStore.
func (s *Store) GetRegionSettings(ctx context.Context, accountID, region string) (backup.RegionSettings, error) {
	row, err := s.readRow(ctx, `SELECT data FROM region_settings WHERE account = ? AND region = ?`, accountID, region)
	if err != nil {
		return backup.RegionSettings{}, err
	}
	var data string
	if err := row.Scan(&data); err != nil {
		return backup.RegionSettings{}, scanErr(err, func() error {
			return backup.NotFoundf("no settings stored for region %s", region)
		})
	}
	var rs backup.RegionSettings
	err = decode(data, &rs)
	return rs, err
}

// UpdateRegionSettings implements meta.SettingsStore.
func (s *Store) UpdateRegionSettings(ctx context.Context, accountID, region string, fn func(*backup.RegionSettings) error) (backup.RegionSettings, error) {
	var out backup.RegionSettings
	err := s.tx(ctx, func(t *wtx) error {
		rs := backup.RegionSettings{Region: region, AccountID: accountID}
		var data string
		err := t.queryRow(`SELECT data FROM region_settings WHERE account = ? AND region = ?`, accountID, region).Scan(&data)
		switch {
		case err == nil:
			if err := decode(data, &rs); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return dbErr("read", err)
		}
		if rs.ResourceTypeOptInPreference == nil {
			rs.ResourceTypeOptInPreference = map[backup.ResourceType]bool{}
		}
		if rs.ResourceTypeManagementPreference == nil {
			rs.ResourceTypeManagementPreference = map[backup.ResourceType]bool{}
		}
		if err := fn(&rs); err != nil {
			return err
		}
		rs.Region, rs.AccountID = region, accountID
		enc, err := encode(&rs)
		if err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO region_settings (account, region, data) VALUES (?, ?, ?) ON CONFLICT (account, region) DO UPDATE SET data = excluded.data`, accountID, region, enc)
		out = rs
		return err
	})
	return out, err
}

// GetGlobalSettings implements meta.SettingsStore.
func (s *Store) GetGlobalSettings(ctx context.Context, accountID string) (backup.GlobalSettings, error) {
	row, err := s.readRow(ctx, `SELECT data FROM global_settings WHERE account = ?`, accountID)
	if err != nil {
		return backup.GlobalSettings{}, err
	}
	var data string
	if err := row.Scan(&data); err != nil {
		return backup.GlobalSettings{}, scanErr(err, func() error {
			return backup.NotFoundf("no global settings stored for account %s", accountID)
		})
	}
	var gs backup.GlobalSettings
	err = decode(data, &gs)
	return gs, err
}

// UpdateGlobalSettings implements meta.SettingsStore.
func (s *Store) UpdateGlobalSettings(ctx context.Context, accountID string, fn func(*backup.GlobalSettings) error) (backup.GlobalSettings, error) {
	var out backup.GlobalSettings
	err := s.tx(ctx, func(t *wtx) error {
		gs := backup.GlobalSettings{AccountID: accountID}
		var data string
		err := t.queryRow(`SELECT data FROM global_settings WHERE account = ?`, accountID).Scan(&data)
		switch {
		case err == nil:
			if err := decode(data, &gs); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return dbErr("read", err)
		}
		if gs.Settings == nil {
			gs.Settings = map[string]string{}
		}
		if err := fn(&gs); err != nil {
			return err
		}
		gs.AccountID = accountID
		enc, err := encode(&gs)
		if err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO global_settings (account, data) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET data = excluded.data`, accountID, enc)
		out = gs
		return err
	})
	return out, err
}
