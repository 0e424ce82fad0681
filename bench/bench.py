#!/usr/bin/env python3
"""Helpers for bench/run: parse hey's summary, time one-process-per-certificate
openssl runs, check a timed `hsmca sign` batch and an hsmca-bench-acme run
against their ledgers, watch for other load on the machine, and write the
results table.

Every measurement is one JSON file in the results directory (NN-name.json);
`table` reads them in name order and prints the markdown table.
"""
import argparse
import glob
import json
import os
import re
import resource
import subprocess
import sys
import time

# ---------------------------------------------------------------- hey

# hey 0.1.4 prints "  50%% in 0.0031 secs" (a doubled percent sign, a known
# printf slip), "Requests/sec:\t1234.5678", "  [200]\t6123 responses" and an
# "Error distribution:" block of "  [N]\tmessage" lines.
RE_RPS = re.compile(r"^\s*Requests/sec:\s*([0-9.]+)", re.M)
RE_TOTAL = re.compile(r"^\s*Total:\s*([0-9.]+) secs", re.M)
RE_PCT = re.compile(r"^\s*(\d+)%+ in ([0-9.]+) secs", re.M)
RE_STATUS = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses", re.M)
RE_AVG = re.compile(r"^\s*Average:\s*([0-9.]+) secs", re.M)


def parse_hey(text):
    out = {"requests_per_second": None, "total_seconds": None, "percentiles_ms": {}, "status_codes": {},
           "errors": {}, "average_ms": None}
    m = RE_RPS.search(text)
    if m:
        out["requests_per_second"] = float(m.group(1))
    m = RE_TOTAL.search(text)
    if m:
        out["total_seconds"] = float(m.group(1))
    m = RE_AVG.search(text)
    if m:
        out["average_ms"] = float(m.group(1)) * 1000
    for pct, secs in RE_PCT.findall(text):
        out["percentiles_ms"][pct] = float(secs) * 1000
    for code, n in RE_STATUS.findall(text):
        out["status_codes"][code] = out["status_codes"].get(code, 0) + int(n)
    if "Error distribution:" in text:
        block = text.split("Error distribution:", 1)[1]
        for line in block.splitlines():
            m = re.match(r"^\s*\[(\d+)\]\s+(.*)$", line)
            if m:
                out["errors"][m.group(2).strip()] = int(m.group(1))
    return out


def cmd_hey(args):
    """One hey run → one result file."""
    with open(args.hey_output) as f:
        text = f.read()
    h = parse_hey(text)
    ok = sum(n for code, n in h["status_codes"].items() if code.startswith("2"))
    bad = sum(n for code, n in h["status_codes"].items() if not code.startswith("2"))
    errors = sum(h["errors"].values())
    # certs/s counts only 2xx answers: a server that fails fast must not look fast.
    rate = None
    if h["total_seconds"]:
        rate = ok / h["total_seconds"]
    result = {
        "section": args.section, "name": args.name, "key": args.key, "clients": args.clients,
        "rate": rate, "hey_requests_per_second": h["requests_per_second"],
        "p50_ms": h["percentiles_ms"].get("50"), "p99_ms": h["percentiles_ms"].get("99"),
        "ok": ok, "non_2xx": bad, "errors": errors, "status_codes": h["status_codes"], "error_messages": h["errors"],
        "rss_kib": args.rss_kib, "background_cpu": args.background_cpu, "seconds": h["total_seconds"],
        "foreign_cpu": foreign_from(args.measure_report),
    }
    if args.signatures is not None:
        result["token_signatures"] = args.signatures
    server_cpu = from_report(args.measure_report, "server_cpu_seconds")
    if server_cpu is not None and ok:
        result["cpu_us_per_cert"] = server_cpu / ok * 1e6
    client_cpu = from_report(args.measure_report, "command_cpu_seconds")
    if client_cpu is not None and ok:
        result["client_cpu_us_per_cert"] = client_cpu / ok * 1e6
    if rate is None:
        result["failure"] = "could not parse hey's output"
    write_result(args.out, result)
    unit = "certs/s" if args.section in MAIN_SECTIONS else "responses/s"
    signed = "" if args.signatures is None else f", token signatures {args.signatures}"
    print(f"  {args.name} c={args.clients}: {fmt(rate, 0)} {unit}{signed}, p50 {fmt(result['p50_ms'], 2)} ms, "
          f"p99 {fmt(result['p99_ms'], 2)} ms, status {h['status_codes']}, errors {errors}, "
          f"peak RSS {fmt(kib_to_mib(args.rss_kib), 1)} MiB")


MAIN_SECTIONS = ("raw", "appliance", "acme", "cfssl", "openssl")
REVOCATION_SECTIONS = ("ocsp-post", "ocsp-get", "crl")
BATCH_SECTIONS = ("batch",)


# ---------------------------------------------------------------- raw token bench

def cmd_raw(args):
    """hsmca-bench-token's JSON lines → one result file each."""
    n = 0
    with open(args.jsonl) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            n += 1
            result = {
                "section": "raw", "name": "raw token", "key": r["key"], "clients": r["threads"],
                "rate": r["per_second"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
                "ok": r["signatures"], "non_2xx": 0, "errors": r["errors"] + (0 if r["verified"] else 1),
                "rss_kib": r.get("peak_rss_kib"), "background_cpu": args.background_cpu, "seconds": r["seconds"],
                "foreign_cpu": foreign_from(args.measure_report),
            }
            if r.get("cpu_seconds") is not None and r["signatures"]:
                result["cpu_us_per_cert"] = r["cpu_seconds"] / r["signatures"] * 1e6
            if not r["verified"]:
                result["failure"] = "a signature did not verify"
            if r.get("first_error"):
                result["failure"] = r["first_error"]
            write_result(os.path.join(args.out_dir, f"{args.prefix}-{r['key']}-{r['threads']}.json"), result)
    if n == 0:
        sys.exit("no results in " + args.jsonl)


# ---------------------------------------------------------------- openssl, one process per certificate

def cmd_openssl_loop(args):
    """Runs `openssl x509 -req ... -engine pkcs11` once per certificate and times each process."""
    env = dict(os.environ, OPENSSL_CONF=args.openssl_conf)
    os.makedirs(args.out_dir, exist_ok=True)
    latencies = []
    failures = 0
    first_failure = None
    busy0 = busy_ticks()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for i in range(args.count):
        out = os.path.join(args.out_dir, f"{i}.pem")
        cmd = ["openssl", "x509", "-req", "-in", args.csr, "-CA", args.ca_cert, "-CAkeyform", "engine",
               "-engine", "pkcs11", "-CAkey", args.key_uri, "-days", "30", "-set_serial", str(1000 + i),
               "-out", out]
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        latencies.append(time.monotonic() - t0)
        if p.returncode != 0 or not os.path.exists(out):
            failures += 1
            if first_failure is None:
                first_failure = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["exit %d" % p.returncode]
    elapsed = time.monotonic() - started
    busy1 = busy_ticks()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = sum(getattr(b, f) - getattr(a, f) for a, b in ((self0, self1), (child0, child1))
               for f in ("ru_utime", "ru_stime"))
    foreign = foreign_fraction(busy0, busy1, ours, elapsed)
    # The largest child's peak: every process here is one `openssl x509`.
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    latencies.sort()

    def pct(q):
        return latencies[int(q * (len(latencies) - 1))] * 1000 if latencies else None

    ok = args.count - failures
    verified = None
    first_ok = next((os.path.join(args.out_dir, f"{i}.pem") for i in range(args.count)
                     if os.path.exists(os.path.join(args.out_dir, f"{i}.pem"))), None)
    if first_ok:
        v = subprocess.run(["openssl", "verify", "-CAfile", args.root_cert, "-untrusted", args.ca_cert, first_ok],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        verified = v.returncode == 0
        if not verified:
            first_failure = [f"{first_ok} does not verify: {v.stdout.strip()}"]
    result = {
        "section": "openssl", "name": "openssl x509 + pkcs11 engine", "key": args.key, "clients": 1,
        "rate": ok / elapsed if elapsed > 0 else None, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "ok": ok,
        "non_2xx": 0, "errors": failures + (1 if verified is False else 0), "rss_kib": rss_kib, "background_cpu": args.background_cpu,
        "seconds": elapsed, "foreign_cpu": foreign,
        "cpu_us_per_cert": ours / ok * 1e6 if ok else None,
    }
    if first_failure:
        result["failure"] = " ".join(first_failure)
    write_result(args.out, result)
    print(f"  openssl engine {args.key}: {ok}/{args.count} certificates in {elapsed:.1f} s = "
          f"{fmt(result['rate'], 1)}/s, p50 {fmt(result['p50_ms'], 1)} ms, p99 {fmt(result['p99_ms'], 1)} ms")


# ---------------------------------------------------------------- hsmca sign over a batch

def cmd_batch(args):
    """One timed `hsmca sign` run over N requests → one result file, after checking what it left behind:
    N issued rows in the ledger with N distinct serials, N certificate files, the first and last verifying."""
    report = {}
    try:
        with open(args.measure_report) as f:
            report = json.load(f)
    except (OSError, ValueError):
        pass
    wall = report.get("wall_seconds")
    problems = []
    if report.get("exit_code") != 0:
        with open(args.sign_stderr, errors="replace") as f:
            last = (f.read().strip().splitlines() or ["(no message)"])[-1]
        problems.append(f"hsmca sign exited {report.get('exit_code')}: {last}")
    try:
        with open(args.ledger_json) as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        entries = []
        problems.append(f"hsmca certs list --json gave no ledger: {e}")
    issued = [e for e in entries if e.get("status") == "issued"]
    serials = {e.get("serial") for e in issued}
    if len(issued) != args.count or len(entries) != args.count:
        problems.append(f"ledger holds {len(issued)} issued of {len(entries)} rows for {args.count} requests")
    if len(serials) != len(issued):
        problems.append(f"{len(issued) - len(serials)} serials repeated in the ledger")
    files = sorted(glob.glob(os.path.join(args.certs_dir, "*.crt")))
    if len(files) != args.count:
        problems.append(f"{len(files)} certificate files for {args.count} requests")
    for pem in {files[0], files[-1]} if files else ():
        v = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", args.root_cert, "-untrusted", args.ca_cert,
                            pem], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if v.returncode != 0:
            why = (v.stdout.strip().splitlines() or [f"exit {v.returncode}"])[-1]
            problems.append(f"{os.path.basename(pem)} does not verify: {why}")
    command_cpu = report.get("command_cpu_seconds")
    # certs/s counts only what the ledger holds as issued.
    result = {
        "section": "batch", "name": "hsmca sign (one run)", "key": args.key, "clients": 1, "certs": args.count,
        "rate": len(issued) / wall if wall else None, "seconds": wall, "ok": len(issued),
        "ledger_rows": len(entries), "unique_serials": len(serials), "files": len(files),
        "non_2xx": 0, "errors": len(problems), "rss_kib": report.get("command_peak_rss_kib"),
        "background_cpu": args.background_cpu, "foreign_cpu": report.get("foreign_cpu"),
        "cpu_us_per_cert": command_cpu / len(issued) * 1e6 if command_cpu is not None and issued else None,
    }
    if problems:
        result["failure"] = "; ".join(problems)
    write_result(args.out, result)
    print(f"  hsmca sign {args.key}: {args.count} requests in {fmt(wall, 1)} s = {fmt(result['rate'], 0)} certs/s; "
          f"ledger {len(issued)} issued, {len(serials)} distinct serials; {len(files)} files"
          + (f"; FAILED: {result['failure']}" if problems else ""))


# ---------------------------------------------------------------- ACME orders (hsmca-bench-acme)

def normal_serial(serial):
    """How the ledger and the load client may both spell a serial: lowercase hex, no leading zeros."""
    return serial.lower().lstrip("0") or "0"


def cmd_acme(args):
    """One hsmca-bench-acme run → one result file, after finding every certificate it downloaded
    in the ledger as issued to an ACME account."""
    line = None
    try:
        with open(args.jsonl) as f:
            line = next((json.loads(l) for l in f if l.startswith("{")), None)
    except (OSError, ValueError):
        pass
    problems = []
    if line is None:
        with open(args.stderr, errors="replace") as f:
            last = (f.read().strip().splitlines() or ["(no message)"])[-1]
        problems.append(f"hsmca-bench-acme gave no result: {last}")
        line = {}
    if line.get("failures"):
        problems.append(f"{line['failures']} orders failed, the first: {line.get('first_error')}")
    if line.get("unverified"):
        problems.append(f"{line['unverified']} certificates did not check out: {line.get('first_error')}")
    try:
        with open(args.ledger_json) as f:
            ledger = {normal_serial(e["serial"]): e for e in json.load(f)}
    except (OSError, ValueError) as e:
        ledger = {}
        problems.append(f"hsmca certs list --json gave no ledger: {e}")
    serials = []
    try:
        with open(args.serials) as f:
            serials = [l.split()[0] for l in f if l.strip()]
    except OSError:
        pass
    in_ledger = {s for s in serials if ledger.get(normal_serial(s), {}).get("status") == "issued"
                 and ledger[normal_serial(s)].get("requester", "").startswith("acme:")}
    if ledger and len(in_ledger) != len(serials):
        missing = [s for s in serials if s not in in_ledger]
        problems.append(f"{len(missing)} downloaded certificates not issued to an ACME account in the ledger, "
                        f"e.g. {missing[0]}")
    if line and len(serials) != line.get("downloaded"):
        problems.append(f"{len(serials)} serials written for {line.get('downloaded')} certificates downloaded")
    orders = line.get("orders") or 0
    every_order = orders + (line.get("warmup_orders") or 0)
    server_cpu = from_report(args.measure_report, "server_cpu_seconds")
    result = {
        "section": "acme", "name": "acme", "key": args.key, "clients": args.clients,
        "rate": line.get("per_second"), "seconds": line.get("seconds"), "ok": orders,
        "p50_ms": line.get("p50_ms"), "p90_ms": line.get("p90_ms"), "p99_ms": line.get("p99_ms"),
        "downloaded": line.get("downloaded"), "verified": line.get("verified"), "in_ledger": len(in_ledger),
        "retries": {k: line.get(k) for k in ("nonce_retries", "busy_retries", "retry_after_waits", "reconnects")},
        "non_2xx": 0, "errors": len(problems), "rss_kib": args.rss_kib, "background_cpu": args.background_cpu,
        "foreign_cpu": foreign_from(args.measure_report),
        # The server's CPU over the client's whole life, warm-up orders included.
        "cpu_us_per_cert": server_cpu / every_order * 1e6 if server_cpu is not None and every_order else None,
    }
    if line.get("client_cpu_seconds") is not None and orders:
        result["client_cpu_us_per_cert"] = line["client_cpu_seconds"] / orders * 1e6
    if problems:
        result["failure"] = "; ".join(problems)
    write_result(args.out, result)
    print(f"  acme c={args.clients}: {fmt(result['rate'], 1)} orders/s ({orders} orders in {fmt(result['seconds'], 1)} s), "
          f"p50 {fmt(result['p50_ms'], 1)} ms, p90 {fmt(result['p90_ms'], 1)} ms; "
          f"{result['verified']} of {result['downloaded']} certificates verified, {len(in_ledger)} in the ledger"
          + (f"; FAILED: {result['failure']}" if problems else ""))


# ---------------------------------------------------------------- other load on the machine

def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle  # without guest time, which user time already counts


def busy_fraction(interval):
    t0, i0 = cpu_times()
    time.sleep(interval)
    t1, i1 = cpu_times()
    total = t1 - t0
    return 0.0 if total <= 0 else 1.0 - (i1 - i0) / total


def cmd_quiet(args):
    """Waits (up to --wait seconds) until the machine is idle; prints the busy fraction it last saw.

    The bench's own servers are idle while this runs, so what it sees is someone
    else's load: a compiler on one of two cores halves what we can measure."""
    deadline = time.monotonic() + args.wait
    busy = busy_fraction(args.interval)
    while busy > args.threshold and time.monotonic() < deadline:
        busy = busy_fraction(args.interval)
    print(f"{busy:.2f}")


# ---------------------------------------------------------------- CPU used by others during a run

CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_ticks():
    """Non-idle CPU time of the whole machine, in clock ticks."""
    total, idle = cpu_times()
    return total - idle


def process_ticks(pid):
    """utime + stime of a live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted after the comm
    except (OSError, IndexError, ValueError):
        return 0


def foreign_fraction(busy0, busy1, ours_seconds, wall_seconds):
    """Share of the machine's CPU capacity that something other than the bench used."""
    capacity = wall_seconds * (os.cpu_count() or 1)
    if capacity <= 0:
        return None
    foreign = (busy1 - busy0) / CLK_TCK - ours_seconds
    return max(0.0, foreign / capacity)


def cmd_measure(args):
    """Runs a command (hey, hsmca-bench-token) and writes how much CPU others used meanwhile.

    Ours is the command's own CPU time plus that of --pid (the server under test); the
    rest of the machine's busy time in the window is someone else's."""
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    server0 = sum(process_ticks(p) for p in args.pid)
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = busy_ticks()
    t0 = time.monotonic()
    with open(args.stdout, "w") as out:
        rc = subprocess.run(args.command, stdout=out).returncode
    wall = time.monotonic() - t0
    busy1 = busy_ticks()
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server1 = sum(process_ticks(p) for p in args.pid)
    command = (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime)
    server = (server1 - server0) / CLK_TCK
    ours = command + server
    with open(args.report, "w") as f:
        # ru_maxrss of the children is the largest child's peak: here, the one command.
        json.dump({"wall_seconds": wall, "our_cpu_seconds": ours, "command_cpu_seconds": command,
                   "server_cpu_seconds": server, "foreign_cpu": foreign_fraction(busy0, busy1, ours, wall),
                   "command_peak_rss_kib": child1.ru_maxrss, "exit_code": rc}, f)
    sys.exit(rc)


def from_report(report, key):
    if not report:
        return None
    try:
        with open(report) as f:
            return json.load(f).get(key)
    except (OSError, ValueError):
        return None


def foreign_from(report):
    return from_report(report, "foreign_cpu")


# ---------------------------------------------------------------- table

def fmt(value, digits):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def kib_to_mib(kib):
    return None if kib is None else kib / 1024


def write_result(path, result):
    with open(path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


def verdict(ok):
    if ok is None:
        return "—"
    return "pass" if ok else "**FAIL**"


def cmd_table(args):
    rows = []
    revocation_rows = []
    batch_rows = []
    for path in sorted(glob.glob(os.path.join(args.results, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        if r["section"] in REVOCATION_SECTIONS:
            revocation_rows.append(r)
        elif r["section"] in BATCH_SECTIONS:
            batch_rows.append(r)
        else:
            rows.append(r)
    raw2 = {r["key"]: r["rate"] for r in rows if r["section"] == "raw" and r["clients"] == 2 and r.get("rate")}
    cfssl = {r["clients"]: r["rate"] for r in rows if r["section"] == "cfssl" and r.get("rate") and not bad(r)}

    def disturbed(r):
        foreign = r.get("foreign_cpu")
        if foreign is None:
            foreign = r.get("background_cpu")
        return foreign is not None and foreign > args.busy_threshold

    raw2_busy = {r["key"]: disturbed(r) for r in rows if r["section"] == "raw" and r["clients"] == 2}
    cfssl_busy = {r["clients"]: disturbed(r) for r in rows if r["section"] == "cfssl"}

    t = args
    lines = []
    main_table_start = 0
    lines.append("| run | key | clients / threads | certs/s | p50 ms | p99 ms | non-2xx / errors | peak RSS MiB "
                 "| CPU ms/cert "
                 "| ×cfssl (same clients) | ×raw token 2 thr | P-256 ≥ %.2g× cfssl | RSA-2048 ≥ %.2g× raw "
                 "| p99 < %g ms @ %d | RSS < %g MiB | others' CPU |"
                 % (t.target_cfssl, t.target_raw, t.target_p99_ms, t.target_p99_clients, t.target_rss_mib))
    lines.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|:-:|:-:|--:|")
    targets = {"cfssl": [], "raw": [], "p99": [], "rss": []}
    busy = {"cfssl": 0, "raw": 0, "p99": 0, "rss": 0}  # verdicts drawn from a ⚠ run (or a ⚠ baseline)
    notes = []
    for r in rows:
        section = r["section"]
        rate = r.get("rate")
        is_app = section == "appliance"
        x_cfssl = x_raw = None
        t_cfssl = t_raw = t_p99 = t_rss = None
        if is_app and not r.get("skipped"):
            if rate and cfssl.get(r["clients"]):
                x_cfssl = rate / cfssl[r["clients"]]
            if rate and raw2.get(r["key"]):
                x_raw = rate / raw2[r["key"]]
            failed = bad(r)
            # Without its baseline (cfssl or the raw run not measured) a ratio target is left open, not failed.
            if r["key"] == "ec-p256" and (failed or x_cfssl is not None):
                t_cfssl = (not failed) and x_cfssl >= t.target_cfssl
                targets["cfssl"].append(t_cfssl)
                busy["cfssl"] += disturbed(r) or cfssl_busy.get(r["clients"], False)
            if r["key"] == "rsa-2048" and (failed or x_raw is not None):
                t_raw = (not failed) and x_raw >= t.target_raw
                targets["raw"].append(t_raw)
                busy["raw"] += disturbed(r) or raw2_busy.get(r["key"], False)
            if r["clients"] == t.target_p99_clients:
                t_p99 = (not failed) and r.get("p99_ms") is not None and r["p99_ms"] < t.target_p99_ms
                targets["p99"].append(t_p99)
                busy["p99"] += disturbed(r)
            if r.get("rss_kib") is not None:
                t_rss = r["rss_kib"] / 1024 < t.target_rss_mib
                targets["rss"].append(t_rss)
        elif section == "cfssl" and not r.get("skipped"):
            x_cfssl = 1.0 if rate else None
        name = {"raw": "raw token (SessionPool::sign)", "appliance": "hsmca-appliance (EST, HTTPS)",
                "acme": "hsmca-appliance (ACME orders, HTTPS)", "cfssl": "cfssl serve (P-256 key in a file)",
                "openssl": "openssl x509 + pkcs11 engine"}[section]
        if r.get("skipped"):
            lines.append(f"| {name} | {r.get('key', '—')} | {r.get('clients', '—')} | {r['skipped']} "
                         "| — | — | — | — | — | — | — | — | — | — | — | — |")
            continue
        errs = (r.get("non_2xx") or 0) + (r.get("errors") or 0)
        err_cell = "0" if errs == 0 else f"**{errs}**"
        flag = ""
        foreign = r.get("foreign_cpu")
        if foreign is not None and foreign > args.busy_threshold:
            flag = " ⚠"
            notes.append(f"⚠ {name} {r['key']} c={r['clients']}: other processes used {foreign:.0%} of the "
                         "machine's CPU during this run (its numbers are low)")
        elif foreign is None and r.get("background_cpu") is not None and r["background_cpu"] > args.busy_threshold:
            flag = " ⚠"
            notes.append(f"⚠ {name} {r['key']} c={r['clients']}: the machine was {r['background_cpu']:.0%} busy "
                         "with other work just before this run (its numbers are low)")
        if bad(r):
            detail = r.get("failure") or ""
            codes = {c: n for c, n in (r.get("status_codes") or {}).items() if not c.startswith("2")}
            if codes:
                detail += f" status codes {codes}"
            if r.get("error_messages"):
                detail += f" errors {r['error_messages']}"
            notes.append(f"**{name} {r['key']} c={r['clients']}: {detail.strip()}**")
        lines.append(
            f"| {name}{flag} | {r['key']} | {r['clients']} | {fmt(rate, 0)} | {fmt(r.get('p50_ms'), 2)} "
            f"| {fmt(r.get('p99_ms'), 2)} | {err_cell} | {fmt(kib_to_mib(r.get('rss_kib')), 1)} "
            f"| {fmt(None if r.get('cpu_us_per_cert') is None else r['cpu_us_per_cert'] / 1000, 3)} "
            f"| {fmt(x_cfssl, 2)} | {fmt(x_raw, 2)} | {verdict(t_cfssl)} | {verdict(t_raw)} | {verdict(t_p99)} "
            f"| {verdict(t_rss)} | {'—' if foreign is None else f'{foreign:.0%}'} |")

    def overall(name, key):
        oks = targets[key]
        if not oks:
            return f"- {name}: not measured"
        line = f"- {name}: {'pass' if all(oks) else '**FAIL**'} ({sum(1 for x in oks if x)}/{len(oks)} runs)"
        if busy[key]:
            line += f" — {busy[key]} of them from a ⚠ run or against a ⚠ baseline: run again on an idle machine"
        return line

    lines.append("")
    lines.append("Targets (every applicable run must pass):")
    lines.append(overall(f"P-256 issuing key ≥ {t.target_cfssl:g}× cfssl certs/s at the same concurrency", "cfssl"))
    lines.append(overall(f"RSA-2048 issuing key ≥ {t.target_raw:g}× the raw 2-thread RSA-2048 token rate", "raw"))
    lines.append(overall(f"p99 < {t.target_p99_ms:g} ms at {t.target_p99_clients} clients", "p99"))
    lines.append(overall(f"appliance peak RSS < {t.target_rss_mib:g} MiB", "rss"))
    if not rows:
        lines = lines[:main_table_start]
    acme_rows = [r for r in rows if r["section"] == "acme" and not r.get("skipped")]
    if acme_rows:
        est = {(r["key"], r["clients"]): r["rate"] for r in rows
               if r["section"] == "appliance" and r.get("rate") and not bad(r)}
        lines.append("")
        lines.append("ACME (hsmca-bench-acme: whole orders — newOrder, authorization, http-01 validated by the "
                     "appliance, finalize with a fresh P-256 CSR, the chain downloaded — one certificate each; "
                     "beside the EST rate of the same key and concurrency in this run):")
        lines.append("")
        lines.append("| orders at once | orders/s | p50 ms | p90 ms | p99 ms | EST certs/s | orders/s ÷ EST certs/s "
                     "| downloaded / verified / in ledger | retries: nonce, busy, Retry-After, reconnect "
                     "| CPU ms/order | others' CPU |")
        lines.append("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in acme_rows:
            base = est.get((r["key"], r["clients"]))
            ratio = r["rate"] / base if base and r.get("rate") else None
            retries = r.get("retries") or {}
            foreign = r.get("foreign_cpu")
            lines.append(
                f"| {r['clients']}{' ⚠' if disturbed(r) else ''} | {fmt(r.get('rate'), 1)} | {fmt(r.get('p50_ms'), 1)} "
                f"| {fmt(r.get('p90_ms'), 1)} | {fmt(r.get('p99_ms'), 1)} | {fmt(base, 0)} | {fmt(ratio, 3)} "
                f"| {fmt(r.get('downloaded'), 0)} / {fmt(r.get('verified'), 0)} / {fmt(r.get('in_ledger'), 0)} "
                f"| {', '.join(str(retries.get(k, '—')) for k in ('nonce_retries', 'busy_retries', 'retry_after_waits', 'reconnects'))} "
                f"| {fmt(None if r.get('cpu_us_per_cert') is None else r['cpu_us_per_cert'] / 1000, 2)} "
                f"| {'—' if foreign is None else f'{foreign:.0%}'} |")
    if revocation_rows:
        targets["ocsp"] = []
        busy["ocsp"] = 0
        lines.append("")
        lines.append("Revocation endpoints (plain HTTP keep-alive, P-256 issuing key; one certificate's status, "
                     "cached; the CRL as served):")
        lines.append("")
        lines.append(f"| run | clients | responses/s | p50 ms | p99 ms | non-2xx / errors | token signatures "
                     f"| CPU µs/response | OCSP ≥ {t.target_ocsp:g}/s | others' CPU |")
        lines.append("|---|--:|--:|--:|--:|--:|--:|--:|:-:|--:|")
        names = {"ocsp-post": "OCSP POST /ocsp", "ocsp-get": "OCSP GET /ocsp/{request}", "crl": "GET /crl"}
        for r in revocation_rows:
            name = names[r["section"]]
            foreign = r.get("foreign_cpu")
            flag = " ⚠" if disturbed(r) else ""
            if flag:
                notes.append(f"⚠ {name} c={r['clients']}: other processes were busy during this run (its numbers are low)")
            if bad(r):
                notes.append(f"**{name} c={r['clients']}: {(r.get('failure') or '')} status codes "
                             f"{r.get('status_codes')} errors {r.get('error_messages')}**")
            t_ocsp = None
            if r["section"].startswith("ocsp"):
                t_ocsp = (not bad(r)) and (r.get("rate") or 0) >= t.target_ocsp
                targets["ocsp"].append(t_ocsp)
                busy["ocsp"] += disturbed(r)
            errs = (r.get("non_2xx") or 0) + (r.get("errors") or 0)
            lines.append(
                f"| {name}{flag} | {r['clients']} | {fmt(r.get('rate'), 0)} | {fmt(r.get('p50_ms'), 2)} "
                f"| {fmt(r.get('p99_ms'), 2)} | {'0' if errs == 0 else f'**{errs}**'} "
                f"| {r.get('token_signatures', '—')} | {fmt(r.get('cpu_us_per_cert'), 1)} | {verdict(t_ocsp)} "
                f"| {'—' if foreign is None else f'{foreign:.0%}'} |")
        lines.append("")
        lines.append(overall(f"OCSP ≥ {t.target_ocsp:g} responses/s for a cached status", "ocsp"))
    if batch_rows:
        lines.append("")
        lines.append("Batch issuance (one `hsmca sign` process over every request, `--out-dir`; its own ledger; "
                     "seconds are the process's wall time):")
        lines.append("")
        lines.append("| run | key | requests | seconds | certs/s | ledger issued / distinct serials | files "
                     "| errors | peak RSS MiB | CPU ms/cert | others' CPU |")
        lines.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in batch_rows:
            name = "`hsmca sign` batch"
            foreign = r.get("foreign_cpu")
            flag = " ⚠" if disturbed(r) else ""
            if flag:
                notes.append(f"⚠ {name} {r['key']}: other processes were busy during this run (its numbers are low)")
            if bad(r):
                notes.append(f"**{name} {r['key']}: {r.get('failure') or 'failed'}**")
            errs = r.get("errors") or 0
            lines.append(
                f"| {name}{flag} | {r['key']} | {fmt(r.get('certs'), 0)} | {fmt(r.get('seconds'), 2)} "
                f"| {fmt(r.get('rate'), 0)} | {fmt(r.get('ok'), 0)} / {fmt(r.get('unique_serials'), 0)} "
                f"| {fmt(r.get('files'), 0)} | {'0' if errs == 0 else f'**{errs}**'} "
                f"| {fmt(kib_to_mib(r.get('rss_kib')), 1)} "
                f"| {fmt(None if r.get('cpu_us_per_cert') is None else r['cpu_us_per_cert'] / 1000, 3)} "
                f"| {'—' if foreign is None else f'{foreign:.0%}'} |")
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend("- " + n for n in notes)
    print("\n".join(lines))
    failed_runs = sum(1 for r in rows + revocation_rows + batch_rows if bad(r))
    missed = sum(1 for oks in targets.values() for x in oks if not x)
    if args.summary_json:
        write_result(args.summary_json, {"failed_runs": failed_runs, "missed_targets": missed})


def bad(r):
    return bool(r.get("non_2xx") or r.get("errors") or r.get("failure"))


def add_server_run_arguments(parser):
    """What every run against a server hands over: where its row goes, its key and concurrency, and the
    server's peak RSS, the load before it and measure's report."""
    parser.add_argument("--out", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--rss-kib", type=int)
    parser.add_argument("--background-cpu", type=float)
    parser.add_argument("--measure-report")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    h = sub.add_parser("hey")
    h.add_argument("--hey-output", required=True)
    h.add_argument("--section", required=True)
    h.add_argument("--name", required=True)
    add_server_run_arguments(h)
    h.add_argument("--signatures", type=int, help="token signatures the server made during the run")
    h.set_defaults(func=cmd_hey)

    r = sub.add_parser("raw")
    r.add_argument("--jsonl", required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("--prefix", required=True)
    r.add_argument("--background-cpu", type=float)
    r.add_argument("--measure-report")
    r.set_defaults(func=cmd_raw)

    o = sub.add_parser("openssl-loop")
    o.add_argument("--count", type=int, required=True)
    o.add_argument("--csr", required=True)
    o.add_argument("--ca-cert", required=True)
    o.add_argument("--root-cert", required=True)
    o.add_argument("--key-uri", required=True)
    o.add_argument("--key", required=True)
    o.add_argument("--openssl-conf", required=True)
    o.add_argument("--out-dir", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--background-cpu", type=float)
    o.set_defaults(func=cmd_openssl_loop)

    b = sub.add_parser("batch")
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--key", required=True)
    b.add_argument("--measure-report", required=True, help="measure's report of the hsmca sign run")
    b.add_argument("--sign-stderr", required=True)
    b.add_argument("--ledger-json", required=True, help="hsmca certs list --json after the run")
    b.add_argument("--certs-dir", required=True)
    b.add_argument("--root-cert", required=True)
    b.add_argument("--ca-cert", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--background-cpu", type=float)
    b.set_defaults(func=cmd_batch)

    a = sub.add_parser("acme")
    a.add_argument("--jsonl", required=True, help="hsmca-bench-acme's output")
    a.add_argument("--stderr", required=True)
    a.add_argument("--serials", required=True, help="its --serials-out file")
    a.add_argument("--ledger-json", required=True, help="hsmca certs list --json after the runs")
    add_server_run_arguments(a)
    a.set_defaults(func=cmd_acme)

    m = sub.add_parser("measure")
    m.add_argument("--stdout", required=True)
    m.add_argument("--report", required=True)
    m.add_argument("--pid", type=int, action="append", default=[])
    m.add_argument("command", nargs=argparse.REMAINDER)
    m.set_defaults(func=cmd_measure)

    q = sub.add_parser("quiet")
    q.add_argument("--wait", type=float, default=10)
    q.add_argument("--interval", type=float, default=1.0)
    q.add_argument("--threshold", type=float, default=0.15)
    q.set_defaults(func=cmd_quiet)

    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--target-cfssl", type=float, default=1.5)
    t.add_argument("--target-raw", type=float, default=0.85)
    t.add_argument("--target-p99-ms", type=float, default=20)
    t.add_argument("--target-p99-clients", type=int, default=32)
    t.add_argument("--target-rss-mib", type=float, default=64)
    t.add_argument("--target-ocsp", type=float, default=15000)
    t.add_argument("--busy-threshold", type=float, default=0.10)
    t.add_argument("--summary-json")
    t.set_defaults(func=cmd_table)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
