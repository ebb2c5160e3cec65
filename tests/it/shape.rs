//! The shape of `src/` that house style asks for and reviews keep
//! losing: no function longer than 80 lines, and no two public types with
//! one name (two `Pd`s or three `Verdict`s confuse every reader). Each
//! scanner is also shown catching what it looks for.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::architecture::sources;

/// The longest a function may be, from its `fn` line to its closing brace.
const MAX_FN_LINES: usize = 80;

fn src_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|f| {
            let name = f.strip_prefix(root).unwrap().display().to_string();
            (name, fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// The source with comments, string and char literals blanked out (their
/// newlines kept), so that braces and keywords in them do not count.
fn code(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        let end = if c == '/' && next == Some('/') {
            (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len())
        } else if c == '/' && next == Some('*') {
            (i + 2..chars.len())
                .find(|&j| chars[j] == '/' && chars[j - 1] == '*')
                .map_or(chars.len(), |j| j + 1)
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident(&chars, i) {
            raw_string_end(&chars, i)
        } else if c == '"' {
            string_end(&chars, i)
        } else if c == '\'' {
            char_end(&chars, i)
        } else {
            i + 1
        };
        if end == i + 1 {
            out.push(c);
        } else {
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
        }
        i = end;
    }
    out
}

/// Whether the char at `i` continues an identifier (`for`, not `r"`).
fn ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn string_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn raw_string_end(chars: &[char], start: usize) -> usize {
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + 1 + hashes) != Some(&'"') {
        return start + 1;
    }
    let mut j = start + 2 + hashes;
    while j < chars.len() {
        if chars[j] == '"'
            && chars[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return j + 1 + hashes;
        }
        j += 1;
    }
    chars.len()
}

/// A char literal's end; a lifetime (`'a`) is left alone.
fn char_end(chars: &[char], start: usize) -> usize {
    match (chars.get(start + 1), chars.get(start + 2)) {
        (Some('\\'), _) => (start + 2..chars.len())
            .find(|&j| chars[j] == '\'')
            .map_or(chars.len(), |j| j + 1),
        (Some(_), Some('\'')) => start + 3,
        _ => start + 1,
    }
}

/// Every function with a body: (name, first line, lines).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code = code(text);
    let bytes = code.as_bytes();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("fn ").map(|p| p + from) {
        from = at + 3;
        let word_start =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !word_start {
            continue;
        }
        let name: String = code[at + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let Some(open) = code[at..].find(['{', ';']).map(|p| p + at) else {
            continue;
        };
        if bytes[open] == b';' {
            continue;
        }
        let mut depth = 0;
        let close = (open..bytes.len()).find(|&j| {
            match bytes[j] {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                _ => {}
            }
            depth == 0
        });
        let Some(close) = close else { continue };
        out.push((name, line_of(at), line_of(close) - line_of(at) + 1));
    }
    out
}

/// `file:line name (N lines)` for every function over the limit.
fn long_functions(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, text) in files {
        for (f, line, lines) in functions(text) {
            if lines > MAX_FN_LINES {
                out.push(format!("{name}:{line} {f} ({lines} lines)"));
            }
        }
    }
    out
}

/// Public type names (`pub`, `pub(crate)`, ...: struct, enum, trait, type)
/// declared in more than one place.
fn shared_type_names(files: &[(String, String)]) -> Vec<String> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, text) in files {
        for (n, line) in code(text).lines().enumerate() {
            let line = line.trim_start();
            let Some(rest) = line.strip_prefix("pub") else {
                continue;
            };
            let rest = match rest.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or("", |(_, r)| r),
                None => rest,
            };
            let mut words = rest.split_whitespace();
            if !matches!(words.next(), Some("struct" | "enum" | "trait" | "type")) {
                continue;
            }
            let Some(ty) = words.next() else { continue };
            let ty: String = ty
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            seen.entry(ty)
                .or_default()
                .push(format!("{name}:{}", n + 1));
        }
    }
    seen.into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(ty, at)| format!("{ty}: {}", at.join(", ")))
        .collect()
}

#[test]
fn no_function_in_src_is_longer_than_80_lines() {
    let long = long_functions(&src_files());
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_two_public_types_in_src_share_a_name() {
    let shared = shared_type_names(&src_files());
    assert!(
        shared.is_empty(),
        "give each its own name:\n{}",
        shared.join("\n")
    );
}

#[test]
fn the_scanners_catch_a_long_function_and_a_shared_name() {
    let body = "    let x = \"}\"; // }\n".repeat(MAX_FN_LINES);
    let long = format!(
        "/// fn in a comment {{\nfn short() -> char {{ '{{' }}\npub fn long<'a>(s: &'a str) {{\n{body}}}\nfn after() {{}}\n"
    );
    let found = functions(&long);
    let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["short", "long", "after"], "{found:?}");
    assert_eq!(found[1], ("long".to_string(), 3, MAX_FN_LINES + 2));
    let files = vec![("a.rs".to_string(), long)];
    assert_eq!(
        long_functions(&files),
        [format!("a.rs:3 long ({} lines)", MAX_FN_LINES + 2)]
    );

    let files = vec![
        (
            "a.rs".to_string(),
            "pub struct Pd;\npub(crate) enum Raw {}\n".to_string(),
        ),
        (
            "b.rs".to_string(),
            "pub(super) struct Pd {}\n// pub struct Raw;\nstruct Raw;\n".to_string(),
        ),
    ];
    assert_eq!(shared_type_names(&files), ["Pd: a.rs:1, b.rs:1"]);
}
