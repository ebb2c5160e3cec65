//! The per-second samples of a metric, read off results' timelines.
