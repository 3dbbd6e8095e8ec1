#!/usr/bin/env python3
"""Score the `article` extractor on the real-page development set, in two halves.

The development set (../shared/extraction-dev: 990 real pages with annotations and
the scorer score.py) is not part of this repository. This script runs that scorer
unchanged on each half of the set and on the whole:

  * development half: pages whose file name's SHA-256, read as a number, is even;
  * held-aside half: the others (rules are developed on the first half only; the
    second shows whether they generalize).

    cargo build --release
    python3 benches/extraction_dev.py --bin target/release/newscrawl
    python3 benches/extraction_dev.py --bin target/release/newscrawl --check benches/extraction_floors.json

With --check, it exits 1 when a figure of the whole set falls below its floor (the
regression gate `.ci/run` applies). Without ../shared/extraction-dev it says so and
exits 0: a fresh clone has no development set.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEV = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "extraction-dev"))


def half_of(file_name):
    """0 for the development half, 1 for the held-aside half."""
    return int(hashlib.sha256(file_name.encode()).hexdigest(), 16) % 2


def score(bin_, evaldata, pages, label):
    """Runs the set's own score.py on `evaldata` (a subset) and returns its summary."""
    with tempfile.TemporaryDirectory() as tmp:
        # score.py reads evaldata.json and pages.tar.xz beside itself: a copy of the
        # scorer with a subset of the annotations, and the pages already unpacked.
        for name in ("score.py", "pages.tar.xz"):
            os.symlink(os.path.join(DEV, name), os.path.join(tmp, name))
        with open(os.path.join(tmp, "evaldata.json"), "w", encoding="utf-8") as f:
            json.dump(evaldata, f)
        out = os.path.join(tmp, "summary.json")
        cmd = [sys.executable, os.path.join(tmp, "score.py"), "--bin", bin_,
               "--pages", pages, "--json", out]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"score.py failed on the {label}: {done.stderr[-2000:]}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def row(label, s):
    return (f"| {label} | {s['pages']} | {s['body']['precision']:.3f} | {s['body']['recall']:.3f} | "
            f"**{s['body']['f1']:.3f}** | {s['empty_bodies']} | {s['title']['rate']:.3f} | "
            f"{s['author']['rate']:.3f} | {s['date']['rate']:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the newscrawl binary")
    ap.add_argument("--pages", default=os.path.join("target", "extraction-dev"),
                    help="where score.py unpacks the pages (default target/extraction-dev)")
    ap.add_argument("--check", help="a JSON file of floors for the whole set; exit 1 below one")
    ap.add_argument("--json", help="write the summaries as JSON")
    ap.add_argument("--whole-only", action="store_true",
                    help="score the whole set only (a third of the time; what the gate needs)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(DEV, "score.py")):
        print(f"no development set at {DEV}: nothing scored")
        return 0
    bin_ = os.path.abspath(a.bin)
    with open(os.path.join(DEV, "evaldata.json"), encoding="utf-8") as f:
        evaldata = json.load(f)
    halves = [{u: i for u, i in evaldata.items() if half_of(i["file"]) == h} for h in (0, 1)]
    # The whole set first: it unpacks the pages for the halves.
    whole = score(bin_, evaldata, a.pages, "whole set")
    summaries = {"whole": whole}
    if not a.whole_only:
        summaries["development"] = score(bin_, halves[0], a.pages, "development half")
        summaries["held_aside"] = score(bin_, halves[1], a.pages, "held-aside half")
    print("| pages | n | body P | body R | body F1 | empty | title | author | date |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, label in (("whole", "whole set"), ("development", "development half"),
                       ("held_aside", "held-aside half")):
        if key in summaries:
            print(row(label, summaries[key]))
    print(f"median {whole['ms_per_page_median_incl_process_start']} ms a page, process start included")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(summaries, f, indent=1)
    if a.check:
        with open(a.check, encoding="utf-8") as f:
            floors = json.load(f)
        got = {
            "body_f1": whole["body"]["f1"],
            "title": whole["title"]["rate"],
            "author": whole["author"]["rate"],
            "date": whole["date"]["rate"],
        }
        failed = [f"{k} {got[k]:.4f} < floor {v}" for k, v in floors.items()
                  if k in got and got[k] < v]
        if "max_empty_bodies" in floors and whole["empty_bodies"] > floors["max_empty_bodies"]:
            failed.append(f"empty bodies {whole['empty_bodies']} > {floors['max_empty_bodies']}")
        if failed:
            print("extraction regression on the development set: " + "; ".join(failed))
            return 1
        print("extraction floors hold: " + ", ".join(f"{k} {v}" for k, v in floors.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
