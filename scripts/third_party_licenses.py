#!/usr/bin/env python3
"""Licence texts of every crate compiled into the given workspace packages.

Reads `cargo metadata --format-version 1 --filter-platform T` on stdin, one document per
platform the bundle ships binaries for (their crates are merged); argv names the root
packages (e.g. miic miic-cli). Follows normal dependencies only (dev- and build-dependencies are not
shipped), and prints, per crate, its licence expression and the licence files it carries.
A crate that ships no licence file gets the standard text of its SPDX licence (MIT with its
authors, Apache-2.0, CC0-1.0); any other licence without a file fails, so nothing ships without one.
"""
import json
import os
import sys

LICENCE_PREFIXES = ("license", "licence", "copying", "notice", "unlicense")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIT_TEMPLATE = """Copyright (c) {holders}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""


def standard_texts(p):
    """Licence texts for a crate that ships none: the standard text of each SPDX id of its
    licence expression (MIT with the crate's authors as holders). None for an unknown id."""
    expr = p.get("license") or ""
    ids = [t for t in expr.replace("(", " ").replace(")", " ").replace("/", " ").split()
           if t not in ("OR", "AND", "WITH")]
    texts = []
    for spdx in ids:
        if spdx == "MIT":
            holders = ", ".join(a.split("<")[0].strip() for a in p.get("authors") or []) or f"the {p['name']} authors"
            texts.append(("MIT (standard text; the crate ships none)", MIT_TEMPLATE.format(holders=holders)))
        elif spdx == "Apache-2.0":
            with open(os.path.join(ROOT, "LICENSE-APACHE"), encoding="utf-8") as fh:
                texts.append(("Apache-2.0 (standard text; the crate ships none)", fh.read().rstrip()))
        elif spdx == "CC0-1.0":
            texts.append(("CC0-1.0", "Dedicated to the public domain under Creative Commons CC0 1.0 Universal;"
                          " no licence notice is required."))
        else:
            return None
    return texts or None


def metadata_documents(text):
    """The JSON documents of `text`, one after another."""
    decoder, at, docs = json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return docs
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)


def shipped_crates(meta, roots):
    """(packages by id, ids of the crates compiled into `roots`, workspace ids) of one platform."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    workspace = set(meta["workspace_members"])

    start = [pid for pid, p in packages.items() if p["name"] in roots and pid in workspace]
    missing_roots = roots - {packages[pid]["name"] for pid in start}
    if missing_roots:
        sys.exit(f"third_party_licenses: unknown packages {sorted(missing_roots)}")

    seen, todo = set(), list(start)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    return packages, seen, workspace


def main():
    roots = set(sys.argv[1:])
    by_id = {}
    for meta in metadata_documents(sys.stdin.read()):
        packages, seen, workspace = shipped_crates(meta, roots)
        by_id.update({pid: packages[pid] for pid in seen if pid not in workspace})
    crates = sorted(by_id.values(), key=lambda p: (p["name"], p["version"]))
    out = sys.stdout
    out.write("Third-party software compiled into this miic bundle\n")
    out.write("=" * 52 + "\n\n")
    for p in crates:
        out.write(f"{p['name']} {p['version']}: {p.get('license') or 'see licence file'}\n")
    out.write("\n")

    lacking = []
    for p in crates:
        folder = os.path.dirname(p["manifest_path"])
        files = sorted(f for f in os.listdir(folder)
                       if f.lower().startswith(LICENCE_PREFIXES) and os.path.isfile(os.path.join(folder, f)))
        if p.get("license_file"):
            lf = os.path.normpath(os.path.join(folder, p["license_file"]))
            if os.path.isfile(lf) and os.path.basename(lf) not in files:
                files.append(os.path.relpath(lf, folder))
        out.write("\n" + "-" * 78 + "\n")
        out.write(f"{p['name']} {p['version']}\nlicence: {p.get('license') or '(file)'}\n")
        if p.get("repository"):
            out.write(f"source: {p['repository']}\n")
        if not files:
            texts = standard_texts(p)
            if texts is None:
                lacking.append(f"{p['name']} {p['version']}")
            for title, text in texts or []:
                out.write(f"\n--- {title} ---\n{text}\n")
            continue
        for f in files:
            with open(os.path.join(folder, f), encoding="utf-8", errors="replace") as fh:
                out.write(f"\n--- {f} ---\n{fh.read().rstrip()}\n")

    if lacking:
        sys.exit("third_party_licenses: no licence text in " + ", ".join(lacking))


if __name__ == "__main__":
    main()
