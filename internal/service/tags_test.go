package service_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
)

func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	mustCreate(t, c, "tagged")
	arn := "arn:aws:backup:us-east-1:" + testAccount + ":backup-vault:tagged"

	want := map[string]string{}
	for i := range 5 {
		want[fmt.Sprintf("key-%d", i)] = fmt.Sprintf("value %d", i)
	}
	if _, err := c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(arn), Tags: want}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	// Re-tagging replaces values.
	want["key-0"] = "changed"
	if _, err := c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"key-0": "changed"}}); err != nil {
		t.Fatal(err)
	}

	// Pages of two: 2 + 2 + 1, every tag exactly once.
	got := map[string]string{}
	pages := 0
	p := backup.NewListTagsPaginator(c, &backup.ListTagsInput{ResourceArn: aws.String(arn), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTags page %d: %v", pages, err)
		}
		pages++
		if len(out.Tags) > 2 {
			t.Errorf("page %d has %d tags, want at most 2", pages, len(out.Tags))
		}
		for k, v := range out.Tags {
			if _, dup := got[k]; dup {
				t.Errorf("tag %s returned twice", k)
			}
			got[k] = v
		}
	}
	if pages != 3 || !maps.Equal(got, want) {
		t.Errorf("got %d pages %v, want 3 pages %v", pages, got, want)
	}

	if _, err := c.UntagResource(ctx, &backup.UntagResourceInput{ResourceArn: aws.String(arn), TagKeyList: []string{"key-1", "key-2", "absent"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	delete(want, "key-1")
	delete(want, "key-2")
	out, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(arn)})
	if err != nil || !maps.Equal(out.Tags, want) {
		t.Errorf("after untag got %v (%v), want %v", out.Tags, err, want)
	}

	// 50 tags at most, counting the ones it has.
	many := map[string]string{}
	for i := range 48 {
		many[fmt.Sprintf("m%02d", i)] = "x"
	}
	_, err = c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(arn), Tags: many})
	as[*types.LimitExceededException](t, err)

	errs := []struct {
		name, arn, code, fragment string
	}{
		{"unknown vault", "arn:aws:backup:us-east-1:" + testAccount + ":backup-vault:nope", "ResourceNotFoundException", "nope"},
		{"unserved region", "arn:aws:backup:eu-west-3:" + testAccount + ":backup-vault:tagged", "ResourceNotFoundException", "eu-west-3"},
		{"other account", "arn:aws:backup:us-east-1:999999999999:backup-vault:tagged", "ResourceNotFoundException", "999999999999"},
		{"other region's vault", "arn:aws:backup:us-west-2:" + testAccount + ":backup-vault:tagged", "ResourceNotFoundException", "us-west-2"},
		{"backup plan (not held)", "arn:aws:backup:us-east-1:" + testAccount + ":backup-plan:abc", "ResourceNotFoundException", "backup-plan:abc"},
		{"unknown recovery point", "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0", "ResourceNotFoundException", "snap-0123456789abcdef0"},
		{"not an ARN", "vault", "InvalidParameterValueException", "ResourceArn"},
		{"bad vault name in ARN", "arn:aws:backup:us-east-1:" + testAccount + ":backup-vault:a", "InvalidParameterValueException", "ResourceArn"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(tc.arn)})
			wantAPIError(t, err, tc.code, tc.fragment)
			_, err = c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(tc.arn), Tags: map[string]string{"a": "b"}})
			wantAPIError(t, err, tc.code, tc.fragment)
			_, err = c.UntagResource(ctx, &backup.UntagResourceInput{ResourceArn: aws.String(tc.arn), TagKeyList: []string{"a"}})
			wantAPIError(t, err, tc.code, tc.fragment)
		})
	}
	_, err = c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"aws:reserved": "x"}})
	wantAPIError(t, err, "InvalidParameterValueException", "Tags")
	_, err = c.UntagResource(ctx, &backup.UntagResourceInput{ResourceArn: aws.String(arn), TagKeyList: []string{""}})
	wantAPIError(t, err, "InvalidParameterValueException", "TagKeyList")
	_, err = c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(arn), NextToken: aws.String("bogus")})
	wantAPIError(t, err, "InvalidParameterValueException", "NextToken")

	// A vault of another region is tagged through that region's ARN.
	mustCreate(t, e.client("us-west-2"), "tagged")
	westArn := "arn:aws:backup:us-west-2:" + testAccount + ":backup-vault:tagged"
	if _, err := c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(westArn), Tags: map[string]string{"site": "west"}}); err != nil {
		t.Fatalf("tagging a us-west-2 vault from a us-east-1 client: %v", err)
	}
	west, err := e.client("us-west-2").ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(westArn)})
	if err != nil || !maps.Equal(west.Tags, map[string]string{"site": "west"}) {
		t.Errorf("got west tags %v (%v), want site=west", west.Tags, err)
	}
}
