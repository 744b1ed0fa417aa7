#!/usr/bin/env bash
# The project's single test command: installs what the tests need (Redis, curl, Chromium) if it is
# missing, then checks formatting,
# vets (go vet and staticcheck), runs every test with the race detector, and gives every fuzz
# target a brief run.
#
#   ./test.sh                 everything
#   SKIP_FUZZ=1 ./test.sh     everything but the fuzz pass
#   FUZZTIME=200000x ./test.sh  a longer fuzz pass (default 20000 inputs per target)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

step() { printf '==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH"

# --- What the tests need from the system, installed from Debian's packages when missing. ------
#   redis-server, redis-cli, redis-sentinel  real Redis servers the tests start (balance/redistest)
#   curl                                     the README tour's test (tour_test.go) runs its curl lines
#   chromium                                 the console's browser tests (console_test.go); they
#                                            fail, not skip, without it
have() { command -v "$1" >/dev/null 2>&1; }
have_chromium() { have chromium || have chromium-browser || have google-chrome; }
packages=()
if ! have redis-server || ! have redis-cli || ! have redis-sentinel; then
	packages+=(redis-server redis-tools redis-sentinel)
fi
have curl || packages+=(curl)
have_chromium || packages+=(chromium fonts-dejavu-core)
if ((${#packages[@]} > 0)); then
	step "installing ${packages[*]}"
	have apt-get || die "${packages[*]} are needed and apt-get is not available: install them yourself"
	SUDO=()
	if [[ $(id -u) != 0 ]]; then
		have sudo || die "not root and no sudo: install ${packages[*]} yourself"
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update
	"${SUDO[@]}" apt-get install -y "${packages[@]}"
	for bin in redis-server redis-cli redis-sentinel curl; do
		have "$bin" || die "$bin is still missing after apt-get install"
	done
	have_chromium || die "chromium is still missing after apt-get install"
fi
redis-server --version

# --- Formatting, vet, tests. ------------------------------------------------------------------
step "gofmt -l ."
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	printf '%s\n' "$unformatted" >&2
	die "the files above are not gofmt-formatted (run: gofmt -w .)"
fi

step "go vet ./..."
go vet ./...

# staticcheck, pinned (a newer release may add checks): deprecated APIs, unused code and the
# like that vet does not look for.
step "staticcheck ./..."
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "go test -race -count=1 ./..."
go test -race -count=1 -timeout 30m ./...

# --- Fuzz pass: every FuzzXxx in a *_test.go, briefly. ---------------------------------------
if [[ ${SKIP_FUZZ:-} == 1 ]]; then
	echo "fuzz: skipped (SKIP_FUZZ=1)"
	exit 0
fi
# A count, not a duration: a duration-based -fuzztime can fail spuriously with "context
# deadline exceeded" when its deadline races a busy worker (a Go toolchain bug, fixed in
# Go 1.27); a count has no deadline to race.
fuzztime=${FUZZTIME:-20000x}
targets=()
while IFS= read -r file; do
	dir=$(dirname "$file")
	while IFS= read -r name; do
		targets+=("$dir $name")
	done < <(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$file")
done < <(find . -type f -name '*_test.go' -not -path '*/testdata/*' -not -path './.git/*' | LC_ALL=C sort)

passed=0
for target in "${targets[@]}"; do
	dir=${target% *}
	name=${target#* }
	step "fuzz $name in $dir ($fuzztime)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"
	passed=$((passed + 1))
done
echo "fuzz: $passed targets passed"
