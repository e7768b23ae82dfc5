//! The library's structure stays one-way (docs/architecture.md): every `crate::…`, `super::…`,
//! `self::…` path in src/ (and a mod.rs's `use child::…`) is an edge from its file to the file
//! of the module it names; no edge may point to a higher layer, and no files may use each other
//! round a circle. Unit-test modules (`#[cfg(test)] mod tests`) are not scanned.
//!
//! `cargo test --test architecture -- --nocapture` prints the dependency list.
//! `MIIC_ARCH_SRC=/other/src` checks another tree (an older commit, a branch).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, highest first; a file's layer is its longest matching prefix (a folder ends in `/`).
const LAYERS: &[(&str, u8, &str)] = &[
    ("lib.rs", 6, "crate root: declarations and the public API"),
    ("ffi/", 5, "the C surface"),
    ("fuzzing.rs", 5, "fuzz-target entry points"),
    ("client.rs", 4, "composes a client"),
    ("diagnose/", 4, "composes a diagnosis of the set-up"),
    ("cloud/", 3, "spec interfaces"),
    ("outbox/", 3, "outbox delivery and worker"),
    ("dicom/", 3, "4.2 images"),
    ("report/", 3, "4.1 report data"),
    ("qr_image.rs", 3, "4.3 QR PNG"),
    ("cloud/dict.rs", 2, "shared part"),
    ("cloud/encode.rs", 2, "shared part"),
    ("outbox/store.rs", 2, "shared part"),
    ("context.rs", 2, "shared part"),
    ("session.rs", 2, "shared part"),
    ("config.rs", 2, "shared part"),
    ("params.rs", 2, "shared part"),
    ("http.rs", 1, "service"),
    ("sm2.rs", 1, "service"),
    ("text.rs", 1, "service"),
    ("log.rs", 1, "service"),
    ("resolve.rs", 1, "service"),
    ("fs.rs", 1, "service"),
    ("callback.rs", 1, "service"),
    ("worker.rs", 1, "service"),
    ("error.rs", 0, "bottom"),
];

fn layer(file: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(prefix, _, _)| {
            if prefix.ends_with('/') {
                file.starts_with(prefix)
            } else {
                file == *prefix
            }
        })
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|(_, l, _)| *l)
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    std::env::var_os("MIIC_ARCH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Every `.rs` file under `dir`, as `a/b.rs` relative paths.
fn rust_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            rust_files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push(format!("{prefix}{name}"));
        }
    }
}

/// `cloud/delete.rs` → `["cloud", "delete"]`; `dicom/mod.rs` → `["dicom"]`; `lib.rs` → `[]`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text without comments, string and char literals, and the trailing unit-test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let end = text[j + 1..]
                    .find(&close)
                    .map_or(b.len(), |k| j + 1 + k + close.len());
                out.push_str("\"\"");
                i = end;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n', '"'); a lifetime ('a) is left alone.
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                let end = text[i + 2..].find('\'').map_or(b.len(), |k| i + 2 + k + 1);
                out.push_str("' '");
                i = end;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// A token stream good enough for paths: identifiers, `::`, and single punctuation.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(code[i..end].to_string());
        } else if c == ':' && chars.peek().map(|&(_, d)| d) == Some(':') {
            chars.next();
            out.push("::".into());
        } else if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Parse a use tree or path at `toks[*i]` (just after a `::`) into full paths under `prefix`.
fn paths(toks: &[String], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if toks.get(*i).map(String::as_str) == Some("{") {
        *i += 1;
        loop {
            match toks.get(*i).map(String::as_str) {
                None => return,
                Some("}") => {
                    *i += 1;
                    return;
                }
                Some(",") => *i += 1,
                Some("self") => {
                    out.push(prefix.clone());
                    *i += 1;
                }
                Some(t) if is_ident(t) => {
                    let mut p = prefix.clone();
                    p.push(t.to_string());
                    *i += 1;
                    if toks.get(*i).map(String::as_str) == Some("::") {
                        *i += 1;
                        paths(toks, i, p, out);
                    } else {
                        out.push(p);
                    }
                }
                Some(_) => *i += 1,
            }
        }
    }
    let mut p = prefix;
    while let Some(t) = toks.get(*i) {
        if is_ident(t) {
            p.push(t.clone());
            *i += 1;
            if toks.get(*i).map(String::as_str) == Some("::") {
                *i += 1;
                if toks.get(*i).map(String::as_str) == Some("{") {
                    paths(toks, i, p, out);
                    return;
                }
                continue;
            }
        }
        break;
    }
    out.push(p);
}

/// The module paths (from the crate root) that a file's code names.
fn references(file: &str, code: &str) -> Vec<Vec<String>> {
    let me = module_of(file);
    let toks = tokens(code);
    // Children this file declares (`mod x;`), which its paths `x::…` name.
    let children: BTreeSet<&str> = toks
        .windows(3)
        .filter(|w| w[0] == "mod" && is_ident(&w[1]) && w[2] == ";")
        .map(|w| w[1].as_str())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        let next_is_path = toks.get(i + 1).map(String::as_str) == Some("::");
        let base = match t {
            "crate" if next_is_path => Some(Vec::new()),
            "self" if next_is_path => Some(me.clone()),
            "super" if next_is_path => {
                let mut base = me.clone();
                base.pop();
                i += 2;
                while toks.get(i).map(String::as_str) == Some("super")
                    && toks.get(i + 1).map(String::as_str) == Some("::")
                {
                    base.pop();
                    i += 2;
                }
                paths(&toks, &mut i, base, &mut out);
                continue;
            }
            // In the file that declares `mod x;`, `x::…` is that child (in `use` and code alike).
            _ if next_is_path && children.contains(t) && (i == 0 || toks[i - 1] != "::") => {
                let mut base = me.clone();
                base.push(t.to_string());
                i += 2;
                paths(&toks, &mut i, base, &mut out);
                continue;
            }
            _ => None,
        };
        match base {
            Some(base) => {
                i += 2;
                paths(&toks, &mut i, base, &mut out);
            }
            None => i += 1,
        }
    }
    out
}

/// The dependency graph of the files under `src`: file → files its code names.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, "", &mut files);
    let by_module: BTreeMap<Vec<String>, String> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut g = Graph::new();
    for file in &files {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let mut deps = BTreeSet::new();
        for path in references(file, &code_of(&text)) {
            // The longest prefix that is a file's module: `crate::outbox::store::Store` → store.rs.
            let target = (0..=path.len())
                .rev()
                .find_map(|n| by_module.get(&path[..n]));
            if let Some(target) = target.filter(|t| *t != file) {
                deps.insert(target.clone());
            }
        }
        g.insert(file.clone(), deps);
    }
    g
}

/// Edges to a higher layer, and files without a layer.
fn layer_problems(g: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, deps) in g {
        let Some(mine) = layer(file) else {
            problems.push(format!(
                "src/{file} has no layer: add it to LAYERS in tests/architecture.rs and to docs/architecture.md"
            ));
            continue;
        };
        for dep in deps {
            if let Some(theirs) = layer(dep).filter(|&l| l > mine) {
                problems.push(format!(
                    "src/{file} (layer {mine}) uses src/{dep} (layer {theirs}): dependencies must point downward"
                ));
            }
        }
    }
    problems
}

/// Each circle of files that use each other, as `a.rs → b.rs → a.rs` (strongly connected
/// components of more than one file, each shown by one cycle through its first file).
fn circles(g: &Graph) -> Vec<String> {
    // Tarjan's algorithm over the sorted graph: deterministic.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    let mut out = Vec::new();
    let mut components: Vec<_> = s.components.into_iter().filter(|c| c.len() > 1).collect();
    components.sort();
    for component in components {
        // Shortest way from the first file back to itself, inside the component (BFS).
        let inside: BTreeSet<&str> = component.iter().copied().collect();
        let start = component[0];
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(v) = queue.pop_front() {
            for w in &g[v] {
                let w = w.as_str();
                if w == start {
                    last = Some(v);
                    break 'search;
                }
                if inside.contains(w) && !came_from.contains_key(w) {
                    came_from.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        let mut cycle = vec![start];
        let mut v = last.expect("a component of several files has a cycle through each");
        while v != start {
            cycle.push(v);
            v = came_from[v];
        }
        cycle.push(start);
        let end = cycle.len() - 1;
        cycle[1..end].reverse();
        let shown: Vec<String> = cycle.iter().map(|f| format!("src/{f}")).collect();
        out.push(format!(
            "import circle: {} (files in it: {})",
            shown.join(" → "),
            component.join(", ")
        ));
    }
    out
}

#[test]
fn src_modules_depend_downward_only_without_import_circles() {
    let g = graph(&src_dir());
    for (file, deps) in &g {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        println!(
            "{file} -> {}",
            if deps.is_empty() {
                "-".into()
            } else {
                deps.join(", ")
            }
        );
    }
    let mut problems = circles(&g);
    problems.extend(layer_problems(&g));
    assert!(
        problems.is_empty(),
        "the structure of src/ is not one-way:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn scanner_sees_use_trees_inline_paths_super_and_child_modules() {
    if std::env::var_os("MIIC_ARCH_SRC").is_some() {
        return; // these edges are the current tree's
    }
    let g = graph(&src_dir());
    for (from, to) in [
        ("ffi/client.rs", "client.rs"),          // use crate::client::Client
        ("client.rs", "cloud/qr.rs"),            // use crate::cloud::{delete, qr}
        ("client.rs", "dicom/progress.rs"),      // crate::dicom::progress::forget(..)
        ("ffi/cloud.rs", "ffi/boundary.rs"),     // use super::boundary::{..}
        ("outbox/mod.rs", "outbox/delivery.rs"), // delivery::flush, a declared child
        ("report/validate/fields.rs", "report/validate/cross.rs"),
        ("report/validate/mod.rs", "report/validate/types.rs"), // pub use types::{..}
    ] {
        assert!(
            g[from].contains(to),
            "the scanner misses src/{from} → src/{to}: {:?}",
            g[from]
        );
    }
}

#[test]
fn checker_names_the_files_of_a_circle_and_of_an_upward_edge() {
    let edges = [
        ("cloud/login.rs", "client.rs"),
        ("client.rs", "cloud/login.rs"),
        ("error.rs", "http.rs"),
    ];
    let mut g = Graph::new();
    for (from, to) in edges {
        g.entry(from.into()).or_default().insert(to.into());
        g.entry(to.into()).or_default();
    }
    assert_eq!(
        circles(&g),
        ["import circle: src/client.rs → src/cloud/login.rs → src/client.rs (files in it: client.rs, cloud/login.rs)"]
    );
    let problems = layer_problems(&g);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("src/cloud/login.rs (layer 3) uses src/client.rs (layer 4)"));
    assert!(problems[1].starts_with("src/error.rs (layer 0) uses src/http.rs (layer 1)"));
    g.insert("newfile.rs".into(), BTreeSet::new());
    assert!(layer_problems(&g)
        .iter()
        .any(|p| p.contains("src/newfile.rs has no layer")));
}
