#!/usr/bin/env bash
# Runs the two conformance suites identity-provider vendors publish against the bridge fronting
# the Domo simulator on loopback, and fails on any failure not listed in
# conformance/expected-failures.txt:
#   - Okta's SCIM 2.0 SPEC Test (runscope-run.mjs), on a demo seeded with the one user it needs;
#   - Microsoft's SCIM Postman collection (newman, pinned by conformance/newman/package-lock.json),
#     on a fresh demo with an empty tenant, since it counts exact totalResults.
# The suites live outside the repo, in ../shared/conformance beside its root; set
# SCIMBRIDGE_CONFORMANCE_DIR to use another copy. They are never edited: the collection is
# rewritten in a temporary copy.
# Needs go, node >= 18, npm and python3. Usage: conformance/run.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
here="$repo/conformance"
suites=${SCIMBRIDGE_CONFORMANCE_DIR:-"$repo/../shared/conformance"}
token=scimbridge-demo-token
folders=("Endpoint tests" "User tests" "Group tests" "ComplexAttribute tests"
	"User tests with garbage" "Group tests with garbage" "Teardown garbage")

die() { echo "conformance: $*" >&2; exit 1; }

for f in okta-spec-2024.json ms-scim-reference-postman-collection.json runscope-run.mjs; do
	if [ ! -f "$suites/$f" ]; then
		# The suites are not ours to vendor. A machine without them cannot judge conformance;
		# say so loudly rather than fail every other check with it. SCIMBRIDGE_REQUIRE_CONFORMANCE=1
		# makes their absence an error.
		msg="missing $suites/$f: the conformance suites must sit in ../shared/conformance beside the repository (or set SCIMBRIDGE_CONFORMANCE_DIR)"
		[ "${SCIMBRIDGE_REQUIRE_CONFORMANCE:-0}" = 1 ] && die "$msg"
		echo "conformance: SKIPPED, NOT RUN: $msg" >&2
		exit 0
	fi
done
suites=$(cd "$suites" && pwd)
for c in go node npm python3; do
	command -v "$c" >/dev/null || die "$c is not installed"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
	die "node $(node --version) is too old: runscope-run.mjs needs node 18 or later"

work=$(mktemp -d "${TMPDIR:-/tmp}/scimbridge-conformance.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap stops the demos

echo "-- suites from $suites"
python3 "$here/results.py" expected "$here/expected-failures.txt"

echo "-- build"
go build -o "$work/scimbridge" ./cmd/scimbridge || die "build failed"

echo "-- newman (pinned in conformance/newman/package-lock.json)"
want_newman=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["newman"])' "$here/newman/package.json")
newman="$here/newman/node_modules/.bin/newman"
if [ ! -x "$newman" ] || [ "$("$newman" --version 2>/dev/null)" != "$want_newman" ]; then
	npm ci --prefix "$here/newman" --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 ||
		{ cat "$work/npm.log" >&2; die "npm ci of newman failed"; }
fi
got_newman=$("$newman" --version)
[ "$got_newman" = "$want_newman" ] || die "newman $got_newman installed, want $want_newman"
echo "newman $got_newman"

# start_demo NAME SEED_USERS: starts `scimbridge demo` on a free loopback port, waits until
# /readyz answers 200, and sets $base to its SCIM base URL and $pid to its process id.
start_demo() {
	local name=$1 seed=$2 out="$work/$1.out" log="$work/$1.log"
	# Created here, not by the background job's redirection, which may come after the first
	# read below (sed on a missing file ended the script under set -e on a loaded machine).
	: >"$out"
	"$work/scimbridge" demo --addr 127.0.0.1:0 --seed-users "$seed" --token "$token" \
		--state "$work/$name.db" >"$out" 2>"$log" &
	pid=$!
	pids+=("$pid")
	base=""
	local deadline=$((SECONDS + 60))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$out" "$log" >&2
			die "$name: the demo exited before it was ready"
		fi
		[ -n "$base" ] || base=$(sed -n 's/^ *SCIM base URL: *//p' "$out")
		if [ -n "$base" ] && python3 - "${base%/scim/v2}/readyz" <<'EOF' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
EOF
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			cat "$out" "$log" >&2
			die "$name: the demo was not ready within 60s"
		fi
		sleep 0.1 # polling interval of the readiness wait
	done
	echo "$name: bridge ready at $base (pid $pid, $seed seeded users)"
}

# stop_demo PID NAME: stops one demo by its process id and waits for it to exit.
stop_demo() {
	local pid=$1 name=$2 deadline=$((SECONDS + 20))
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$name: no exit 20s after SIGTERM; killing pid $pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1 # polling interval of the exit wait
	done
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 20 "$work/$name.log" >&2
		die "$name: the demo exited with status $rc"
	fi
}

echo "-- Okta SCIM 2.0 SPEC Test"
start_demo okta 1
okta_pid=$pid
timeout 300 node "$suites/runscope-run.mjs" "$suites/okta-spec-2024.json" \
	--var "SCIMBaseURL=$base" --var "auth=Bearer $token" --json "$work/okta.json" || true
stop_demo "$okta_pid" okta

echo "-- Microsoft SCIM Postman collection"
python3 "$here/results.py" prepare-postman "$suites/ms-scim-reference-postman-collection.json" "$work/ms-collection.json"
start_demo ms 0
ms_pid=$pid
port=${base#http://127.0.0.1}
port=${port%%/*}
folder_args=()
for f in "${folders[@]}"; do folder_args+=(--folder "$f"); done
timeout 300 "$newman" run "$work/ms-collection.json" --env-var Protocol=http --env-var Server=127.0.0.1 \
	--env-var "Port=$port" --env-var Api=scim/v2 --env-var "token=$token" "${folder_args[@]}" \
	--timeout-request 30000 --color off --reporters cli,json --reporter-cli-no-success-assertions --reporter-json-export "$work/ms.json" || true
stop_demo "$ms_pid" ms

echo "-- results"
if ! python3 "$here/results.py" judge --expected "$here/expected-failures.txt" \
	--okta "$suites/okta-spec-2024.json" "$work/okta.json" \
	--postman "$work/ms-collection.json" "$work/ms.json" "${folders[@]}"; then
	for name in okta ms; do
		echo "-- last lines of the $name bridge's log"
		tail -n 40 "$work/$name.log"
	done
	exit 1
fi
