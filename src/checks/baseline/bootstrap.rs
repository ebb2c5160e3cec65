//! The hierarchical moving-block bootstrap of a metric's change.
