package service

import (
	"context"
	"slices"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
)

// GetSupportedResourceTypes lists the resource types Coffer really backs up
// and restores: EBS (volume images and block devices), EFS (directory
// trees) and RDS (PostgreSQL databases).
func (s *Service) GetSupportedResourceTypes(ctx context.Context, in *backupapi.GetSupportedResourceTypesInput) (*backupapi.GetSupportedResourceTypesOutput, error) {
	out := &backupapi.GetSupportedResourceTypesOutput{ResourceTypes: make([]string, len(backup.SupportedResourceTypes))}
	for i, t := range backup.SupportedResourceTypes {
		out.ResourceTypes[i] = string(t)
	}
	return out, nil
}

// managedTypes are the resource types with a management preference
// (ResourceTypeManagementPreference): whether AWS Backup fully manages
// their backups. Coffer always fully manages EFS backups; DynamoDB is
// listed as AWS does, but Coffer does not back it up.
var managedTypes = map[backup.ResourceType]bool{backup.EFS: true, backup.DynamoDB: false}

// defaultOptIn reports the opt-in a region has before any update: on for
// the types Coffer supports, off for the others.
func defaultOptIn(t backup.ResourceType) bool { return t.Supported() }

// DescribeRegionSettings reports, for the call region, the opt-in of every
// resource type AWS Backup knows (supported types default to on, the
// others are off and cannot be turned on) and the management preference of
// EFS and DynamoDB.
func (s *Service) DescribeRegionSettings(ctx context.Context, in *backupapi.DescribeRegionSettingsInput) (*backupapi.DescribeRegionSettingsOutput, error) {
	out, err := s.describeRegionSettings(ctx)
	return out, apiError(err)
}

func (s *Service) describeRegionSettings(ctx context.Context) (*backupapi.DescribeRegionSettingsOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.store.GetRegionSettings(ctx, s.account, region)
	if err != nil && backup.KindOf(err) != backup.KindNotFound {
		return nil, err
	}
	out := &backupapi.DescribeRegionSettingsOutput{
		ResourceTypeOptInPreference:      make(map[string]bool, len(backup.KnownResourceTypes)),
		ResourceTypeManagementPreference: make(map[string]bool, len(managedTypes)),
	}
	for _, t := range backup.KnownResourceTypes {
		v, ok := rs.ResourceTypeOptInPreference[t]
		if !ok {
			v = defaultOptIn(t)
		}
		out.ResourceTypeOptInPreference[string(t)] = v
	}
	for t, def := range managedTypes {
		v, ok := rs.ResourceTypeManagementPreference[t]
		if !ok {
			v = def
		}
		out.ResourceTypeManagementPreference[string(t)] = v
	}
	return out, nil
}

// UpdateRegionSettings changes the opt-in and management preferences of the
// call region; types not named keep their setting. Every key must be a
// resource type AWS Backup knows; a type Coffer does not support can only
// be opted out, and EFS backups are always fully managed.
func (s *Service) UpdateRegionSettings(ctx context.Context, in *backupapi.UpdateRegionSettingsInput) (*backupapi.UpdateRegionSettingsOutput, error) {
	if err := s.updateRegionSettings(ctx, in); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.UpdateRegionSettingsOutput{}, nil
}

func (s *Service) updateRegionSettings(ctx context.Context, in *backupapi.UpdateRegionSettingsInput) error {
	region, err := s.region(ctx)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(in.ResourceTypeOptInPreference) {
		t := backup.ResourceType(k)
		switch {
		case !t.Known():
			return backup.InvalidParameterf("Invalid value for ResourceTypeOptInPreference: %q is not a resource type", k)
		case in.ResourceTypeOptInPreference[k] && !t.Supported():
			return backup.InvalidParameterf("Invalid value for ResourceTypeOptInPreference: resource type %s is not supported by Coffer and cannot be opted in", k)
		}
	}
	for _, k := range sortedKeys(in.ResourceTypeManagementPreference) {
		t := backup.ResourceType(k)
		if _, ok := managedTypes[t]; !ok {
			return backup.InvalidParameterf("Invalid value for ResourceTypeManagementPreference: %q has no management preference (only DynamoDB and EFS do)", k)
		}
		if t == backup.EFS && !in.ResourceTypeManagementPreference[k] {
			return backup.InvalidParameterf("Invalid value for ResourceTypeManagementPreference: EFS backups are always fully managed")
		}
	}
	if len(in.ResourceTypeOptInPreference) == 0 && len(in.ResourceTypeManagementPreference) == 0 {
		return nil
	}
	_, err = s.store.UpdateRegionSettings(ctx, s.account, region, func(rs *backup.RegionSettings) error {
		for k, v := range in.ResourceTypeOptInPreference {
			rs.ResourceTypeOptInPreference[backup.ResourceType(k)] = v
		}
		for k, v := range in.ResourceTypeManagementPreference {
			rs.ResourceTypeManagementPreference[backup.ResourceType(k)] = v
		}
		return nil
	})
	return err
}

// Global settings AWS Backup defines, all "true" or "false", default
// "false".
var globalSettingNames = []string{"isCrossAccountBackupEnabled", "isDelegatedAdministratorEnabled", "isMpaEnabled"}

// DescribeGlobalSettings reports the account's global settings (each of
// globalSettingNames, "false" until updated) and when they were last
// updated (absent before the first update).
func (s *Service) DescribeGlobalSettings(ctx context.Context, in *backupapi.DescribeGlobalSettingsInput) (*backupapi.DescribeGlobalSettingsOutput, error) {
	gs, err := s.store.GetGlobalSettings(ctx, s.account)
	if err != nil && backup.KindOf(err) != backup.KindNotFound {
		return nil, apiError(err)
	}
	out := &backupapi.DescribeGlobalSettingsOutput{
		GlobalSettings: make(map[string]string, len(globalSettingNames)),
		LastUpdateTime: optTime(gs.LastUpdateTime),
	}
	for _, k := range globalSettingNames {
		v, ok := gs.Settings[k]
		if !ok {
			v = "false"
		}
		out.GlobalSettings[k] = v
	}
	return out, nil
}

// UpdateGlobalSettings changes some of the account's global settings; each
// key must be one of globalSettingNames and each value "true" or "false".
// Coffer serves one account, so the cross-account and delegation settings
// are stored and reported but change nothing yet.
func (s *Service) UpdateGlobalSettings(ctx context.Context, in *backupapi.UpdateGlobalSettingsInput) (*backupapi.UpdateGlobalSettingsOutput, error) {
	if err := s.updateGlobalSettings(ctx, in); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.UpdateGlobalSettingsOutput{}, nil
}

func (s *Service) updateGlobalSettings(ctx context.Context, in *backupapi.UpdateGlobalSettingsInput) error {
	if len(in.GlobalSettings) == 0 {
		return backup.MissingParameterf("Missing value for GlobalSettings: name at least one of %v", globalSettingNames)
	}
	for _, k := range sortedKeys(in.GlobalSettings) {
		if !slices.Contains(globalSettingNames, k) {
			return backup.InvalidParameterf("Invalid value for GlobalSettings: %q is not a global setting (known: %v)", k, globalSettingNames)
		}
		if v := in.GlobalSettings[k]; v != "true" && v != "false" {
			return backup.InvalidParameterf("Invalid value for GlobalSettings: %s must be \"true\" or \"false\"", k)
		}
	}
	now := s.now()
	_, err := s.store.UpdateGlobalSettings(ctx, s.account, func(gs *backup.GlobalSettings) error {
		for k, v := range in.GlobalSettings {
			gs.Settings[k] = v
		}
		gs.LastUpdateTime = now
		return nil
	})
	return err
}

// sortedKeys returns m's keys in order, so that the first bad key reported
// is the same on every call.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
