//! A check's verdict, as recorded in `result.json` under `checks`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Violations kept word for word; the rest are only counted.
pub const MAX_VIOLATIONS: usize = 20;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckVerdict {
    /// `bank`, `inventory`, `lock`, `readback` or `scan`.
    pub name: String,
    pub passed: bool,
    /// One line: what was verified, in figures.
    pub summary: String,
    /// The figures, by name.
    pub details: Map<String, Value>,
    /// The first violations, each a sentence naming the key, the expected
    /// and the found.
    pub violations: Vec<String>,
    pub violation_count: u64,
}

impl CheckVerdict {
    pub(super) fn new(name: &str) -> CheckVerdict {
        CheckVerdict {
            name: name.into(),
            passed: true,
            summary: String::new(),
            details: Map::new(),
            violations: Vec::new(),
            violation_count: 0,
        }
    }

    /// Records a violation (the message is built only while it is kept).
    pub(super) fn violation(&mut self, message: impl FnOnce() -> String) {
        self.violation_count += 1;
        self.passed = false;
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(message());
        }
    }

    /// Adds violations counted elsewhere, keeping the first ones.
    pub(super) fn violations_from(&mut self, kept: &[String], count: u64) {
        for v in kept {
            if self.violations.len() < MAX_VIOLATIONS {
                self.violations.push(v.clone());
            }
        }
        self.violation_count += count;
        self.passed &= count == 0;
    }

    pub(super) fn detail(&mut self, name: &str, value: impl Into<Value>) {
        self.details.insert(name.into(), value.into());
    }

    pub(super) fn summary(mut self, summary: String) -> CheckVerdict {
        self.summary = summary;
        self
    }
}

impl fmt::Display for CheckVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed {
            return write!(f, "pass: {} ({})", self.name, self.summary);
        }
        write!(
            f,
            "FAIL: {} ({}): {} violation(s)",
            self.name, self.summary, self.violation_count
        )?;
        if let Some(first) = self.violations.first() {
            write!(f, ", first: {first}")?;
        }
        Ok(())
    }
}

/// Violations met along the way (during the run), before a verdict exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub kept: Vec<String>,
    pub count: u64,
}

impl Found {
    pub fn add(&mut self, message: impl FnOnce() -> String) {
        self.count += 1;
        if self.kept.len() < MAX_VIOLATIONS {
            self.kept.push(message());
        }
    }
}
