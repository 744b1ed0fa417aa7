#!/usr/bin/env bash
# The project's single test command: installs Redis and Chromium if they are missing, then checks formatting,
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

# --- Redis: the tests start real redis-server processes (balance/redistest). ---------------
need_redis=0
for bin in redis-server redis-cli redis-sentinel; do
	command -v "$bin" >/dev/null 2>&1 || need_redis=1
done
if [[ $need_redis == 1 ]]; then
	step "installing Redis (redis-server, redis-tools, redis-sentinel)"
	command -v apt-get >/dev/null 2>&1 ||
		die "redis-server, redis-cli and redis-sentinel are needed and apt-get is not available: install Redis yourself"
	SUDO=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install redis-server redis-tools redis-sentinel yourself"
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update
	"${SUDO[@]}" apt-get install -y redis-server redis-tools redis-sentinel
	for bin in redis-server redis-cli redis-sentinel; do
		command -v "$bin" >/dev/null 2>&1 || die "$bin is still missing after apt-get install"
	done
fi
redis-server --version

# --- Chromium: the console's browser tests (console_test.go) drive a real headless one. ---------
# They fail, not skip, without it.
have_chromium() {
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
		command -v google-chrome >/dev/null 2>&1
}
if ! have_chromium; then
	step "installing chromium (the console's browser tests)"
	command -v apt-get >/dev/null 2>&1 ||
		die "chromium is needed by the console's browser tests and apt-get is not available: install Chromium yourself"
	SUDO=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install chromium yourself"
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update
	"${SUDO[@]}" apt-get install -y chromium fonts-dejavu-core
	have_chromium || die "chromium is still missing after apt-get install"
fi

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
