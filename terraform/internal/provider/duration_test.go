package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

func TestDurationsThatParseEqualAreSemanticallyEqual(t *testing.T) {
	tests := []struct {
		config, bus string
		equal       bool
	}{
		{"1m", "1m0s", true},
		{"90s", "1m30s", true},
		{"200ms", "200ms", true},
		{"1m", "2m0s", false},
		{"soon", "soon", false}, // never valid, so never equal
	}
	for _, tt := range tests {
		equal, diags := durationOf(tt.config).StringSemanticEquals(context.Background(), durationOf(tt.bus))
		if diags.HasError() {
			t.Fatal(diags)
		}
		if equal != tt.equal {
			t.Errorf("%q vs the bus's %q: semantically equal = %v, want %v (else plans show a diff that is none, or hide one)", tt.config, tt.bus, equal, tt.equal)
		}
	}
}

func TestDurationThatDoesNotParseIsRefusedAtPlan(t *testing.T) {
	var resp xattr.ValidateAttributeResponse
	durationOf("5 seconds").ValidateAttribute(context.Background(), xattr.ValidateAttributeRequest{Path: path.Root("delay")}, &resp)
	if !resp.Diagnostics.HasError() {
		t.Fatal(`"5 seconds" passed validation: a typo would reach the bus instead of failing the plan`)
	}
}
