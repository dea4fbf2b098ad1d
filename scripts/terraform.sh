#!/usr/bin/env bash
# Installs the Terraform CLI that the provider's acceptance tests drive
# (terraform/), and prints the binary's path on stdout.
#
# No Terraform package is reachable here, so the CLI is built from source with
# go install, pinned below, into .tools/bin (gitignored). A binary of the
# pinned version already there is reused: a warm run takes well under a
# second, a cold one a few minutes.
#
# Usage: TF_BIN=$(scripts/terraform.sh)
set -euo pipefail

TERRAFORM_VERSION=1.5.7
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin/terraform"

installed_version() {
	CHECKPOINT_DISABLE=1 "$bin" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p'
}

if [ ! -x "$bin" ] || [ "$(installed_version)" != "$TERRAFORM_VERSION" ]; then
	echo "terraform.sh: building Terraform $TERRAFORM_VERSION into .tools/bin (a few minutes the first time)" >&2
	mkdir -p "$root/.tools/bin"
	# Outside any module, so the project's go.mod is never touched.
	(cd "$root/.tools" && GOWORK=off GOFLAGS= GOBIN="$root/.tools/bin" \
		go install "github.com/hashicorp/terraform@v$TERRAFORM_VERSION") >&2
	got=$(installed_version)
	if [ "$got" != "$TERRAFORM_VERSION" ]; then
		echo "terraform.sh: expected Terraform $TERRAFORM_VERSION at $bin, found '${got:-nothing}'" >&2
		exit 1
	fi
fi
echo "$bin"
