package service_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
)

func TestSupportedResourceTypes(t *testing.T) {
	e := newEnv(t)
	out, err := e.client("us-east-1").GetSupportedResourceTypes(context.Background(), &backup.GetSupportedResourceTypesInput{})
	if err != nil {
		t.Fatalf("GetSupportedResourceTypes: %v", err)
	}
	if want := []string{"EBS", "EFS", "RDS"}; !slices.Equal(out.ResourceTypes, want) {
		t.Errorf("got %v, want %v", out.ResourceTypes, want)
	}
}

func TestRegionSettings(t *testing.T) {
	e := newEnv(t)
	east, west := e.client("us-east-1"), e.client("us-west-2")
	ctx := context.Background()

	d, err := east.DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
	if err != nil {
		t.Fatalf("DescribeRegionSettings: %v", err)
	}
	defaults := map[string]bool{"EFS": true, "EBS": true, "RDS": true, "S3": false, "DynamoDB": false, "Storage Gateway": false, "SAP HANA on Amazon EC2": false}
	for k, v := range defaults {
		if got, ok := d.ResourceTypeOptInPreference[k]; !ok || got != v {
			t.Errorf("default opt-in %s: got %v (present %v), want %v", k, got, ok, v)
		}
	}
	if want := map[string]bool{"EFS": true, "DynamoDB": false}; !maps.Equal(d.ResourceTypeManagementPreference, want) {
		t.Errorf("got management %v, want %v", d.ResourceTypeManagementPreference, want)
	}

	if _, err := east.UpdateRegionSettings(ctx, &backup.UpdateRegionSettingsInput{
		ResourceTypeOptInPreference:      map[string]bool{"RDS": false, "S3": false},
		ResourceTypeManagementPreference: map[string]bool{"DynamoDB": true},
	}); err != nil {
		t.Fatalf("UpdateRegionSettings: %v", err)
	}
	d, err = east.DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if d.ResourceTypeOptInPreference["RDS"] || !d.ResourceTypeOptInPreference["EFS"] || !d.ResourceTypeManagementPreference["DynamoDB"] {
		t.Errorf("after update got %v %v, want RDS off, EFS on, DynamoDB managed", d.ResourceTypeOptInPreference, d.ResourceTypeManagementPreference)
	}
	// Settings are per region.
	w, err := west.DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
	if err != nil || !w.ResourceTypeOptInPreference["RDS"] {
		t.Errorf("us-west-2 got RDS opt-in %v (%v), want the default true", w.ResourceTypeOptInPreference["RDS"], err)
	}

	bad := []struct {
		name string
		in   *backup.UpdateRegionSettingsInput
	}{
		{"unknown type", &backup.UpdateRegionSettingsInput{ResourceTypeOptInPreference: map[string]bool{"Floppy": true}}},
		{"unsupported type on", &backup.UpdateRegionSettingsInput{ResourceTypeOptInPreference: map[string]bool{"S3": true}}},
		{"no management preference", &backup.UpdateRegionSettingsInput{ResourceTypeManagementPreference: map[string]bool{"EBS": true}}},
		{"EFS unmanaged", &backup.UpdateRegionSettingsInput{ResourceTypeManagementPreference: map[string]bool{"EFS": false}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := east.UpdateRegionSettings(ctx, tc.in)
			as[*types.InvalidParameterValueException](t, err)
		})
	}
}

func TestGlobalSettings(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	d, err := c.DescribeGlobalSettings(ctx, &backup.DescribeGlobalSettingsInput{})
	if err != nil {
		t.Fatalf("DescribeGlobalSettings: %v", err)
	}
	if want := map[string]string{"isCrossAccountBackupEnabled": "false", "isDelegatedAdministratorEnabled": "false", "isMpaEnabled": "false"}; !maps.Equal(d.GlobalSettings, want) || d.LastUpdateTime != nil {
		t.Errorf("got %v %v, want defaults %v and no LastUpdateTime", d.GlobalSettings, d.LastUpdateTime, want)
	}
	e.clock.Advance(time.Hour)
	if _, err := c.UpdateGlobalSettings(ctx, &backup.UpdateGlobalSettingsInput{GlobalSettings: map[string]string{"isCrossAccountBackupEnabled": "true"}}); err != nil {
		t.Fatalf("UpdateGlobalSettings: %v", err)
	}
	d, err = c.DescribeGlobalSettings(ctx, &backup.DescribeGlobalSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if d.GlobalSettings["isCrossAccountBackupEnabled"] != "true" || d.GlobalSettings["isMpaEnabled"] != "false" || !aws.ToTime(d.LastUpdateTime).Equal(e.clock.Now()) {
		t.Errorf("got %v at %v, want cross-account on at %v", d.GlobalSettings, d.LastUpdateTime, e.clock.Now())
	}
	// Global: the same from another region.
	w, err := e.client("us-west-2").DescribeGlobalSettings(ctx, &backup.DescribeGlobalSettingsInput{})
	if err != nil || w.GlobalSettings["isCrossAccountBackupEnabled"] != "true" {
		t.Errorf("us-west-2 got %v (%v), want the account's settings", w.GlobalSettings, err)
	}

	_, err = c.UpdateGlobalSettings(ctx, &backup.UpdateGlobalSettingsInput{GlobalSettings: map[string]string{"isNonsense": "true"}})
	wantAPIError(t, err, "InvalidParameterValueException", "isNonsense")
	_, err = c.UpdateGlobalSettings(ctx, &backup.UpdateGlobalSettingsInput{GlobalSettings: map[string]string{"isMpaEnabled": "yes"}})
	wantAPIError(t, err, "InvalidParameterValueException", "isMpaEnabled")
	_, err = c.UpdateGlobalSettings(ctx, &backup.UpdateGlobalSettingsInput{})
	as[*types.MissingParameterValueException](t, err)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.clientWith("us-east-1", testKey, "wrong-secret").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	wantAPIError(t, err, "InvalidSignatureException")
	_, err = e.clientWith("us-east-1", "AKIAUNKNOWNUNKNOWN00", testSecret).ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	_, err = e.client("eu-central-1").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	wantAPIError(t, err, "InvalidSignatureException", "eu-central-1")
	// Nothing was created by the refused calls; the right key works.
	if _, err := e.client("us-east-1").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{}); err != nil {
		t.Errorf("valid credentials: %v", err)
	}
}
