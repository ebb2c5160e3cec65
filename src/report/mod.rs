//! Renderers of results, each a function of a [`RunResult`]: the text
//! summary printed after a run (HTML and PNG reports come later).

pub mod text;
