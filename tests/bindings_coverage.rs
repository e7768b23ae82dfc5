//! Every function `include/miic.h` declares is bound in all three bindings: imported and called by
//! a wrapper in `bindings/csharp/Miic.cs`, imported and called in `bindings/delphi/Miic.pas`, and
//! called in `bindings/cpp/miic.hpp`. Adding an export without its bindings fails here, naming
//! the function and the language. (That the wrappers work is proven through the real compilers
//! in tests/bindings.rs.)

use std::path::PathBuf;

fn read(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// C, C++ and C# source without comments, string and character literals (each replaced by a
/// space), so a name inside a message or a comment is not taken for a call.
fn strip_c_like(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            (q @ (b'"' | b'\''), _) => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(' ');
            }
            _ => {
                // Copy one whole character.
                let ch = src[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// Pascal source without comments (`{ }`, `(* *)`, `//`) and, unless `keep_strings`, without
/// string literals.
fn strip_pascal(src: &str, keep_strings: bool) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                }
                out.push(' ');
            }
            '(' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == ')' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '\'' => {
                let mut literal = String::from("'");
                for d in chars.by_ref() {
                    literal.push(d);
                    if d == '\'' {
                        break;
                    }
                }
                out.push_str(if keep_strings { &literal } else { " " });
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `name` occurs in `text` as a whole identifier followed by `(` (a call or declaration).
fn calls(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].trim_start();
        before.is_none_or(|c| !is_ident(c)) && after.starts_with('(')
    })
}

/// Whether `name` occurs in `text` as a whole identifier (Pascal calls need no parentheses).
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        before.is_none_or(|c| !is_ident(c)) && after.is_none_or(|c| !is_ident(c))
    })
}

/// The functions a C header declares, in order (typedefs and macros left out).
fn header_functions(header: &str) -> Vec<String> {
    let code: String = strip_c_like(header)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .filter_map(|statement| {
            // What follows an `extern "C" {` or a closing brace is the declaration itself.
            let decl = statement.rsplit(['{', '}']).next().unwrap().trim();
            if decl.starts_with("typedef") {
                return None;
            }
            let head = decl[..decl.find('(')?].trim_end();
            let name = head.rsplit(|c: char| !is_ident(c)).next()?;
            name.starts_with("miic_").then(|| name.to_owned())
        })
        .collect()
}

/// What is missing for `export` in each binding, as messages naming the function and language.
fn missing_bindings(exports: &[String], cs: &str, pas: &str, hpp: &str) -> Vec<String> {
    let cs = strip_c_like(cs);
    let (cs_imports, cs_code): (Vec<&str>, Vec<&str>) =
        cs.lines().partition(|l| l.contains(" extern "));
    let cs_imports = cs_imports.join("\n");
    let cs_code = cs_code.join("\n");

    let pas_keep = strip_pascal(pas, true);
    let imports: Vec<(String, String)> = pas_keep
        .lines()
        .filter(|l| l.contains("external MiicLib"))
        .filter_map(|l| {
            let rest = l.trim_start();
            let rest = rest
                .strip_prefix("function ")
                .or_else(|| rest.strip_prefix("procedure "))?;
            let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            let bound = match l.split(" name '").nth(1) {
                Some(tail) => tail.split('\'').next().unwrap().to_owned(),
                None => ident.clone(),
            };
            Some((bound, ident))
        })
        .collect();
    let pas_code = strip_pascal(pas, false);
    let implementation = pas_code
        .split("\nimplementation")
        .nth(1)
        .unwrap_or_default();

    let hpp = strip_c_like(hpp);

    let mut problems = Vec::new();
    for export in exports {
        if !calls(&cs_imports, export) {
            problems.push(format!(
                "{export} (include/miic.h) is not bound in C#: bindings/csharp/Miic.cs has no `static extern` import of it"
            ));
        } else if !calls(&cs_code, export) {
            problems.push(format!(
                "{export} (include/miic.h) is not wrapped in C#: bindings/csharp/Miic.cs imports it but no method calls it"
            ));
        }
        match imports.iter().find(|(bound, _)| bound == export) {
            None => problems.push(format!(
                "{export} (include/miic.h) is not bound in Delphi: bindings/delphi/Miic.pas has no `external MiicLib` import of it"
            )),
            Some((_, ident)) if !mentions(implementation, ident) => problems.push(format!(
                "{export} (include/miic.h) is not wrapped in Delphi: bindings/delphi/Miic.pas imports it as {ident} but its implementation never calls it"
            )),
            Some(_) => {}
        }
        if !calls(&hpp, export) {
            problems.push(format!(
                "{export} (include/miic.h) is not wrapped in C++: bindings/cpp/miic.hpp never calls it"
            ));
        }
    }
    problems
}

struct Sources {
    header: String,
    cs: String,
    pas: String,
    hpp: String,
}

fn sources() -> Sources {
    Sources {
        header: read("include/miic.h"),
        cs: read("bindings/csharp/Miic.cs"),
        pas: read("bindings/delphi/Miic.pas"),
        hpp: read("bindings/cpp/miic.hpp"),
    }
}

#[test]
fn every_header_export_is_bound_in_csharp_delphi_and_cpp() {
    let s = sources();
    let exports = header_functions(&s.header);
    // The parser itself: single- and multi-line declarations, first and last of the header.
    for known in [
        "miic_last_error",
        "miic_open",
        "miic_dicom_retrieve",
        "miic_set_progress_callback",
        "miic_string_free",
    ] {
        assert!(
            exports.iter().any(|e| e == known),
            "header parser missed {known}: {exports:?}"
        );
    }
    assert!(
        !exports.iter().any(|e| e.ends_with("_fn")),
        "callback typedefs are not exports: {exports:?}"
    );
    let problems = missing_bindings(&exports, &s.cs, &s.pas, &s.hpp);
    assert!(
        problems.is_empty(),
        "{} bindings missing over the {} exports of include/miic.h:\n{}",
        problems.len(),
        exports.len(),
        problems.join("\n")
    );
    println!("{} exports bound in C#, Delphi and C++", exports.len());
}

#[test]
fn a_new_export_without_bindings_is_named_for_each_language() {
    let s = sources();
    let header = s.header.replace(
        "MiicStatus miic_outbox_flush(",
        "MiicStatus miic_frobnicate(struct miic_client *c,\n                           uint32_t n);\n\nMiicStatus miic_outbox_flush(",
    );
    let exports = header_functions(&header);
    assert!(
        exports.iter().any(|e| e == "miic_frobnicate"),
        "{exports:?}"
    );
    let problems = missing_bindings(&exports, &s.cs, &s.pas, &s.hpp);
    assert_eq!(problems.len(), 3, "{problems:?}");
    for language in ["C#", "Delphi", "C++"] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("miic_frobnicate ")
                    && p.contains(&format!(" in {language}:"))),
            "{language} not named: {problems:?}"
        );
    }
}

#[test]
fn an_import_no_wrapper_calls_counts_as_unbound() {
    let s = sources();
    let exports = vec!["miic_frobnicate".to_owned()];
    // Declared, mentioned in comments and messages, but called by no wrapper.
    let cs = s.cs.replace(
        "internal static extern IntPtr miic_last_error();",
        "internal static extern IntPtr miic_last_error();\n\n        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]\n        internal static extern int miic_frobnicate(MiicClientHandle c);\n        // miic_frobnicate(handle) is for later\n        private const string Why = \"miic_frobnicate(x)\";",
    );
    let pas = s.pas.replace(
        "function miic_last_error: PAnsiChar; cdecl; external MiicLib;",
        "function miic_last_error: PAnsiChar; cdecl; external MiicLib;\nfunction MiicFrob(C: PMiicClient): Integer; cdecl; external MiicLib name 'miic_frobnicate';",
    ).replace("\nend.", "\n{ MiicFrob(FHandle) later }\nconst Later = 'MiicFrob';\nend.");
    let hpp = s.hpp.replace(
        "#endif  // MIIC_HPP",
        "// miic_frobnicate(c) later\n#endif  // MIIC_HPP",
    );
    let problems = missing_bindings(&exports, &cs, &pas, &hpp);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].contains("C#: bindings/csharp/Miic.cs imports it but no method calls it"));
    assert!(problems[1].contains("Delphi: bindings/delphi/Miic.pas imports it as MiicFrob"));
    assert!(problems[2].contains("C++: bindings/cpp/miic.hpp never calls it"));
}
