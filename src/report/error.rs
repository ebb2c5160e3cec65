//! Why a report or a comparison cannot be rendered.

use std::path::PathBuf;

use super::plot::DrawError;
use crate::metrics::hist::HistogramDecodeError;

/// Why `report.html` or `compare.html` cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Nothing to compare: name at least one result.
    #[error("nothing to compare: give at least one result")]
    NothingToCompare,
    /// The report's directory cannot be made: a file has its name, or no
    /// permission. Choose another directory (`--out`).
    #[error("{}: cannot create report directory", dir.display())]
    ReportDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// The comparison's directory cannot be made: a file has its name, or
    /// no permission. Choose another directory (`--out`).
    #[error("{}: cannot create output directory", dir.display())]
    OutputDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// An op's latency histogram in the result does not decode: the result
    /// was edited or cut. Restore it or run again.
    #[error("op '{op}': cannot read its latency histogram")]
    Histogram {
        op: String,
        source: HistogramDecodeError,
    },
    /// As [`ReportError::Histogram`], for one of the results compared.
    #[error("{}: op '{op}': bad histogram", path.display())]
    ResultHistogram {
        path: PathBuf,
        op: String,
        source: HistogramDecodeError,
    },
    /// A chart cannot be drawn (see [`DrawError`]).
    #[error(transparent)]
    Draw(#[from] DrawError),
    /// A chart just drawn cannot be read back to inline it into the page:
    /// something removed it meanwhile.
    #[error("{}: cannot read chart: {err}", path.display())]
    ReadChart { path: PathBuf, err: std::io::Error },
    /// `report.html` cannot be written: no permission or a full disk.
    #[error("{}: cannot write report", path.display())]
    WriteReport {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `compare.html` cannot be written: no permission or a full disk.
    #[error("{}: cannot write", path.display())]
    WriteComparison {
        path: PathBuf,
        source: std::io::Error,
    },
}
