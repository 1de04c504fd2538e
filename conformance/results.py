#!/usr/bin/env python3
"""Prepare Microsoft's Postman collection and judge both conformance suites' results.

    results.py prepare-postman SRC DST
        Copy Microsoft's collection to DST with two changes: the non-standard
        {{Api}}/serviceConfiguration path becomes ServiceProviderConfig (in url.raw and in the
        url.path array, which is what newman actually requests), and every request gets a
        stable id so failures can be traced to "folder / step" (the collection has no ids and
        repeats step names).

    results.py expected FILE
        Print the expected-failures list (CI prints it in its log).

    results.py judge --expected FILE [--okta SPEC OKTA_JSON] [--postman COLLECTION NEWMAN_JSON FOLDER...]
        Read the runners' JSON reports, print every failure as expected or UNEXPECTED, and
        exit 1 if any failure is not in the list, if a report is missing or incomplete, or if
        a suite ran fewer steps than it has. An expected failure that passes is reported, not
        failed: the list names what may fail, not what must.

Only the standard library: CI runs this with the machine's python3.
"""

import json
import sys

SUITE_OKTA = "okta-spec"
SUITE_POSTMAN = "ms-postman"


class Entry:
    """One line of the expected-failures list."""

    def __init__(self, lineno, suite, step, assertion, statuses, reason):
        self.lineno = lineno
        self.suite = suite
        self.step = step
        self.assertion = assertion
        self.statuses = statuses
        self.reason = reason
        self.seen = False

    def matches(self, f):
        return (self.suite == f["suite"] and self.step == f["step"] and
                self.assertion == f["assertion"] and f["status"] in self.statuses)


def load_expected(path):
    """Parse 'suite | step | assertion | statuses | reason' lines; '#' starts a comment line."""
    entries, problems = [], []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 5 or not all(parts):
                problems.append(f"{path}:{n}: want 5 non-empty fields separated by ' | ', got {len(parts)}")
                continue
            suite, step, assertion, statuses, reason = parts
            if suite not in (SUITE_OKTA, SUITE_POSTMAN):
                problems.append(f"{path}:{n}: unknown suite {suite!r} (want {SUITE_OKTA} or {SUITE_POSTMAN})")
                continue
            try:
                codes = {int(s) for s in statuses.split(",")}
            except ValueError:
                problems.append(f"{path}:{n}: statuses must be comma-separated HTTP codes, got {statuses!r}")
                continue
            if any(c >= 500 for c in codes):
                problems.append(f"{path}:{n}: a 5xx answer is never an expected failure")
                continue
            entries.append(Entry(n, suite, step, assertion, codes, reason))
    if problems:
        raise SystemExit("\n".join(problems))
    return entries


def print_expected(entries, out=sys.stdout):
    print(f"Expected conformance failures ({len(entries)}):", file=out)
    for e in entries:
        codes = ",".join(str(c) for c in sorted(e.statuses))
        print(f"  [{e.suite}] {e.step}\n      assertion: {e.assertion} (answered {codes})\n      why: {e.reason}", file=out)


def walk_postman(items, folders=()):
    """Yield (folder path, request item) for every request of a collection, in order."""
    for it in items:
        if "item" in it:
            yield from walk_postman(it["item"], folders + (it["name"],))
        else:
            yield folders, it


def prepare_postman(src, dst):
    with open(src, encoding="utf-8") as fh:
        coll = json.load(fh)
    rewritten = 0
    for n, (_, it) in enumerate(walk_postman(coll["item"]), 1):
        it["id"] = f"scimbridge-{n:03d}"
        url = it.get("request", {}).get("url")
        if isinstance(url, str):
            url = {"raw": url}
            it["request"]["url"] = url
        if "/serviceConfiguration" in url.get("raw", ""):
            url["raw"] = url["raw"].replace("/serviceConfiguration", "/ServiceProviderConfig")
            rewritten += 1
        if "path" in url:
            url["path"] = ["ServiceProviderConfig" if p == "serviceConfiguration" else p for p in url["path"]]
    if rewritten == 0:
        raise SystemExit(f"{src}: no serviceConfiguration request found; has the collection changed?")
    with open(dst, "w", encoding="utf-8") as fh:
        json.dump(coll, fh, indent=1)


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        raise SuiteError(f"{what}: no usable report at {path}: {e}")


class SuiteError(Exception):
    """A suite whose results cannot be trusted (did not run, ran partly, report unreadable)."""


def okta_failures(spec_path, report_path):
    spec = read_json(spec_path, "Okta SPEC test")
    want = sum(1 for s in spec["steps"] if s.get("step_type") == "request" and not s.get("skipped"))
    rep = read_json(report_path, "Okta SPEC test")
    results = rep.get("results", [])
    if len(results) != want:
        raise SuiteError(f"Okta SPEC test: {len(results)} steps reported, the spec has {want}")
    out = []
    for r in results:
        if r.get("ok"):
            continue
        for msg in r.get("failures") or ["failed without a message"]:
            # runscope-run.mjs appends "(actual: ...)" to an assertion; the rest names it.
            out.append({"suite": SUITE_OKTA, "step": r["name"], "assertion": msg.split(" (actual:")[0],
                        "status": r.get("status", 0), "detail": msg})
    return len(results), out


def postman_failures(coll_path, report_path, folders):
    coll = read_json(coll_path, "Postman collection")
    names, want = {}, 0
    for path, it in walk_postman(coll["item"]):
        names[it.get("id")] = " / ".join(path + (it["name"],))
        if path and path[0] in folders:
            want += 1
    rep = read_json(report_path, "Microsoft Postman collection")
    run = rep.get("run", {})
    execs = run.get("executions", [])
    if len(execs) != want:
        raise SuiteError(f"Microsoft Postman collection: {len(execs)} requests ran, the chosen folders have {want}")
    if run.get("error"):
        raise SuiteError(f"Microsoft Postman collection: newman stopped: {run['error']}")
    status_by_ref = {e["cursor"].get("ref"): (e.get("response") or {}).get("code", 0) for e in execs}
    out = []
    for f in run.get("failures", []):
        src, err = f.get("source") or {}, f.get("error") or {}
        step = names.get(src.get("id"), src.get("name", "?"))
        if err.get("name") == "AssertionError" and err.get("test"):
            assertion = err["test"]
        else:
            assertion = f"{f.get('at', 'error')}: {err.get('name', 'Error')}"
        out.append({"suite": SUITE_POSTMAN, "step": step, "assertion": assertion,
                    "status": status_by_ref.get((f.get("cursor") or {}).get("ref"), 0),
                    "detail": err.get("message", "")})
    return len(execs), out


def judge(argv):
    expected_path, okta, postman = None, None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--expected":
            expected_path, i = argv[i + 1], i + 2
        elif a == "--okta":
            okta, i = argv[i + 1:i + 3], i + 3
        elif a == "--postman":
            rest = argv[i + 1:]
            stop = next((k for k, v in enumerate(rest) if v.startswith("--")), len(rest))
            postman, i = rest[:stop], i + 1 + stop
            if len(postman) < 3:
                raise SystemExit("--postman wants COLLECTION NEWMAN_JSON FOLDER...")
        else:
            raise SystemExit(f"judge: unknown argument {a!r}")
    if not expected_path:
        raise SystemExit("judge: --expected FILE is required")
    entries = load_expected(expected_path)

    bad = 0
    suites = []
    if okta:
        suites.append((SUITE_OKTA, "Okta SCIM 2.0 SPEC Test", lambda: okta_failures(*okta)))
    if postman:
        suites.append((SUITE_POSTMAN, "Microsoft SCIM Postman collection",
                       lambda: postman_failures(postman[0], postman[1], set(postman[2:]))))
    judged = set()
    for suite, title, get in suites:
        try:
            steps, failures = get()
        except SuiteError as e:
            print(f"FAIL {e}")
            bad += 1
            continue
        judged.add(suite)
        unexpected = 0
        for f in failures:
            match = next((e for e in entries if e.matches(f)), None)
            if match:
                match.seen = True
            else:
                unexpected += 1
            tag = "expected  " if match else "UNEXPECTED"
            print(f"  {tag} [{f['suite']}] {f['step']}: {f['assertion']} -> {f['status']} ({f['detail']})")
        print(f"{title}: {steps} steps, {len(failures)} failed assertions, "
              f"{len(failures) - unexpected} expected, {unexpected} unexpected")
        bad += unexpected
    for e in entries:
        if e.suite in judged and not e.seen:
            print(f"note: expected failure now passes (line {e.lineno} of {expected_path} can go): "
                  f"[{e.suite}] {e.step}: {e.assertion}")
    if bad:
        print(f"conformance: {bad} unexpected failure(s)")
        return 1
    print("conformance: no unexpected failures")
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "prepare-postman" and len(argv) == 3:
        prepare_postman(argv[1], argv[2])
        return 0
    if len(argv) == 2 and argv[0] == "expected":
        print_expected(load_expected(argv[1]))
        return 0
    if argv and argv[0] == "judge":
        return judge(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
