#!/usr/bin/env python3
"""A second reading of the WARC output, by Python's warcio (the test suite reads it
with the `warc` crate): serve the bundled fixture site, crawl it with the demo config
and --warc, then check that warcio reads every record, that a warcinfo record comes
first, that every response has its request (WARC-Concurrent-To), and that every
payload digest verifies.

Usage: warcio_check.py NEWSCRAWL_BINARY
"""
import base64
import hashlib
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from warcio.archiveiterator import ArchiveIterator

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, deadline_s=30):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"warcio check: the fixture server never listened on port {port}")


def check(path):
    records = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            h = rec.rec_headers
            item = {
                "type": rec.rec_type,
                "uri": h.get_header("WARC-Target-URI"),
                "id": h.get_header("WARC-Record-ID"),
                "concurrent": h.get_header("WARC-Concurrent-To"),
            }
            if rec.rec_type == "response":
                payload = rec.content_stream().read()
                digest = "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()
                item["digest"] = (digest, h.get_header("WARC-Payload-Digest"))
            records.append(item)
    problems = []
    if not records or records[0]["type"] != "warcinfo":
        problems.append("the first record is not warcinfo")
    responses = [r for r in records if r["type"] == "response"]
    if not responses:
        problems.append("no response records")
    requests = {r["concurrent"]: r for r in records if r["type"] == "request"}
    for r in responses:
        computed, written = r["digest"]
        if computed != written:
            problems.append(f"{r['uri']}: payload digest {written} but the payload gives {computed}")
        request = requests.get(r["id"])
        if request is None or request["uri"] != r["uri"]:
            problems.append(f"{r['uri']}: no request record concurrent to {r['id']}")
    if len({r["id"] for r in records}) != len(records):
        problems.append("record ids are not unique")
    return len(records), len(responses), problems


def main():
    binary = pathlib.Path(sys.argv[1]).resolve()
    port = free_port()
    server = subprocess.Popen(
        [binary, "fixture", "--addr", f"127.0.0.1:{port}", "--articles", "12"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            config = (ROOT / "config/demo.toml").read_text()
            (tmp / "crawl.toml").write_text(config.replace("{origin}", f"http://127.0.0.1:{port}"))
            warc = tmp / "crawl.warc.gz"
            subprocess.run(
                [binary, "crawl", "--config", tmp / "crawl.toml", "--state", tmp / "state",
                 "--out", tmp / "records.jsonl", "--warc", warc, "--min-delay", "5ms"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            total, responses, problems = check(warc)
    finally:
        server.terminate()
        server.wait()
    for p in problems:
        print(f"warcio check: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"warcio check: {total} records, {responses} responses, every digest verifies")


if __name__ == "__main__":
    main()
