//! The module DAG stated in `src/lib.rs` holds: every `crate::` path in a
//! top-level module names a module its row of the allowed-imports table
//! lists, and every top-level module has a row.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Table = BTreeMap<String, BTreeSet<String>>;

/// The allowed-imports table of `lib.rs`: `//! | module | a, b |` rows.
fn allowed(lib: &str) -> Table {
    let mut table = Table::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (module, deps) = (cells[0], cells.get(1).copied().unwrap_or(""));
        if module == "module" || module.starts_with("---") {
            continue;
        }
        let deps = deps
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "-")
            .map(String::from)
            .collect();
        table.insert(module.to_string(), deps);
    }
    table
}

/// Every `.rs` file under `dir` (or the file itself).
pub fn sources(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            sources(&e, out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The source without comments (line comments and doc comments), so that
/// a link in a doc comment is not an import.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) ends nothing we scan for.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a source names through `crate::x` or
/// `crate::{x, y}`.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `tikv_bench_crate::` or `$crate::` are not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end].split(',').map(|s| s.trim()).collect()
        } else {
            vec![rest]
        };
        for n in names {
            let name: String = n
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

/// Each violation as `file: module imports dep`.
fn violations(src: &Path, table: &Table) -> Vec<String> {
    let modules: BTreeSet<String> = table.keys().cloned().collect();
    let mut out = Vec::new();
    for module in &modules {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            for dep in imports(&code(&text), &modules) {
                if dep != *module && !table[module].contains(&dep) {
                    out.push(format!("{}: {module} imports {dep}", f.display()));
                }
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_import_follows_the_allowed_imports_table() {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    let table = allowed(&lib);
    let bad = violations(&src(), &table);
    assert!(
        bad.is_empty(),
        "imports against src/lib.rs's table:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_module_has_a_row_and_the_table_is_acyclic() {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    let table = allowed(&lib);
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let rows: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(declared, rows, "modules in lib.rs vs rows of its table");
    // A module's row names only modules above it in the table: no cycles.
    let order: Vec<&String> = table.keys().collect();
    let position = |m: &str| {
        lib.lines()
            .position(|l| l.starts_with(&format!("//! | {m} |")))
            .unwrap()
    };
    for m in order {
        for dep in &table[m] {
            assert!(rows.contains(dep), "{m} may import unknown module {dep}");
            assert!(
                position(dep) < position(m),
                "{m} may import {dep}, which comes after it"
            );
        }
    }
}

#[test]
fn a_forbidden_import_is_caught() {
    // The scanner on a copy of one module's tree with one import added.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("client")).unwrap();
    let mut table = Table::new();
    table.insert("client".into(), ["vocab".to_string()].into());
    table.insert("vocab".into(), BTreeSet::new());
    table.insert("cluster".into(), BTreeSet::new());
    let ok = "use crate::vocab::ErrorKind;\n/// See [`crate::cluster`].\nfn f() {}\n";
    fs::write(dir.path().join("client/mod.rs"), ok).unwrap();
    assert!(violations(dir.path(), &table).is_empty());
    let bad = format!("{ok}use crate::{{vocab::Events, cluster::Cluster}};\n");
    fs::write(dir.path().join("client/mod.rs"), bad).unwrap();
    let found = violations(dir.path(), &table);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("client imports cluster"), "{found:?}");
}
