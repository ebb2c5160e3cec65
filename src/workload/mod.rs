//! Workload files: YAML -> [`spec::WorkloadSpec`] (plain serde) ->
//! [`Workload`] (checked, typed), and the generators that turn a workload
//! into a deterministic stream of operations.
//!
//! Every error names the file, line and column of the value at fault and,
//! where there are choices, lists them:
//! `workloads/x.yaml:12:7: unknown variant 'zipfain', expected one of ...`.

mod checked;
pub mod checks;
pub mod keys;
pub mod ops;
pub mod spec;
pub mod stream;
pub mod sweep;
pub mod thresholds;
pub mod validate;

use std::path::Path;

pub use checked::*;

/// One problem found in a workload file, at a position when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl Diagnostic {
    pub fn at(line: u64, column: u64, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Why a workload file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read: check the path and its permissions.
    #[error("{path}: cannot read workload file: {err}")]
    Read { path: String, err: std::io::Error },
    /// The file is not valid YAML, has an unknown field or a value of the
    /// wrong type, or failed a check. Each diagnostic points at the value.
    #[error("{}", render(origin, diagnostics, source_text))]
    Invalid {
        origin: String,
        diagnostics: Vec<Diagnostic>,
        source_text: String,
    },
}

impl WorkloadError {
    /// The diagnostics of an `Invalid` error (empty for `Read`).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            WorkloadError::Invalid { diagnostics, .. } => diagnostics,
            WorkloadError::Read { .. } => &[],
        }
    }
}

/// `FILE:LINE:COL: message`, then the source line with a caret under the column.
fn render(origin: &str, diags: &[Diagnostic], text: &str) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if d.line == 0 {
            out.push_str(&format!("{origin}: {}", d.message));
            continue;
        }
        out.push_str(&format!("{origin}:{}:{}: {}", d.line, d.column, d.message));
        if let Some(src) = text.lines().nth(d.line as usize - 1) {
            let gutter = d.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret = " ".repeat(d.column.saturating_sub(1) as usize);
            out.push_str(&format!("\n {pad} |\n {gutter} | {src}\n {pad} | {caret}^"));
        }
    }
    out
}

impl Workload {
    /// Reads, parses and checks a workload file.
    pub fn load(path: &Path) -> Result<Workload, WorkloadError> {
        let text = std::fs::read_to_string(path).map_err(|err| WorkloadError::Read {
            path: path.display().to_string(),
            err,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Workload::parse_in(&text, &path.display().to_string(), base)
    }

    /// Parses and checks workload text; `origin` names it in errors;
    /// relative paths are taken from the current directory.
    pub fn parse(text: &str, origin: &str) -> Result<Workload, WorkloadError> {
        Workload::parse_in(text, origin, Path::new("."))
    }

    /// [`Workload::parse`], with relative paths (the TLS files) taken from
    /// `base`, the directory of the workload file.
    pub fn parse_in(text: &str, origin: &str, base: &Path) -> Result<Workload, WorkloadError> {
        let invalid = |diagnostics| WorkloadError::Invalid {
            origin: origin.to_string(),
            diagnostics,
            source_text: text.to_string(),
        };
        let spec: spec::WorkloadSpec = serde_saphyr::from_str(text).map_err(|e| {
            let message = serde_saphyr::MessageFormatter::format_message(
                &serde_saphyr::DefaultMessageFormatter,
                e.without_snippet(),
            )
            .into_owned();
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            invalid(vec![Diagnostic::at(line, column, message)])
        })?;
        validate::validate(spec, base).map_err(|mut diags| {
            diags.sort_by_key(|d| (d.line, d.column));
            invalid(diags)
        })
    }

    /// The workload as YAML in the file format, every default spelled out.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// Whether any op of the mix uses the records in the raw or the
    /// transactional key space (check ops use their own keys).
    pub fn uses_raw(&self) -> bool {
        self.ops.iter().any(|o| o.kind.api() == Some(Api::Raw))
    }

    pub fn uses_txn(&self) -> bool {
        self.ops.iter().any(|o| o.kind.api() == Some(Api::Txn))
    }

    /// Whether an op writes with a TTL or reads one (a target must keep
    /// TTLs to run it).
    pub fn uses_ttl(&self) -> bool {
        self.ops.iter().any(|o| match &o.kind {
            OpKind::GetTtl(_) => true,
            OpKind::Put(p) => p.ttl.is_some(),
            OpKind::Cas(c) => c.ttl.is_some(),
            _ => false,
        })
    }
}
