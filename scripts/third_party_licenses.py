#!/usr/bin/env python3
"""Licence texts of every crate compiled into the given workspace packages.

Reads `cargo metadata --format-version 1 --filter-platform T` on stdin; argv names the root
packages (e.g. miic miic-cli). Follows normal dependencies only (dev- and build-dependencies are not
shipped), and prints, per crate, its licence expression and the licence files it carries.
Fails when a crate carries no licence text at all, so nothing ships without one.
"""
import json
import os
import sys

LICENCE_PREFIXES = ("license", "licence", "copying", "notice", "unlicense")


def main():
    meta = json.load(sys.stdin)
    roots = set(sys.argv[1:])
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

    crates = sorted((packages[pid] for pid in seen if pid not in workspace),
                    key=lambda p: (p["name"], p["version"]))
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
            lacking.append(f"{p['name']} {p['version']}")
            continue
        for f in files:
            with open(os.path.join(folder, f), encoding="utf-8", errors="replace") as fh:
                out.write(f"\n--- {f} ---\n{fh.read().rstrip()}\n")

    if lacking:
        sys.exit("third_party_licenses: no licence text in " + ", ".join(lacking))


if __name__ == "__main__":
    main()
