//! Renderers of results, each a function of a [`RunResult`]: the text
//! summary printed after a run ([`text`]), the report of one result
//! ([`html`]: `report.html` with PNG charts), and the comparison of several
//! ([`compare`]: `compare.html`, the contention chart, deltas, read off
//! each result's [`figures`]); [`stages`] reads the load stages and the
//! SLO search that all three show. [`plot`] draws every chart; [`page`] holds
//! the HTML pieces both pages share. [`ci`] writes what CI systems read:
//! a Markdown summary and JUnit XML of the thresholds, the verdicts
//! against a baseline and the checks.
//!
//! [`RunResult`]: crate::metrics::RunResult

mod charts;
pub mod ci;
mod cluster;
pub mod compare;
mod curve;
pub mod drivers;
mod error;
mod faults;
pub mod figures;
pub mod html;
pub mod page;
mod places;
pub mod plot;
pub mod runs;
mod server_time;
mod slow;
pub mod stages;
mod stores_chart;
pub mod text;

pub use compare::compare_to_dir;
pub use error::ReportError;
pub use html::write;
