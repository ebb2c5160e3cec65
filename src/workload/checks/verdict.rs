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

/// The checks whose verdict rests on raw compare-and-swap being atomic.
const CAS_CHECKS: [&str; 2] = ["inventory", "lock"];

/// Fails the checks that rest on raw CAS being atomic when the cluster
/// counted `count` plain (not `for_cas`) raw writes to keys a CAS used: on
/// TiKV each could have landed between a CAS's read and its write, so the
/// check's pass would show nothing (the embedded cluster counts them, as
/// `non_atomic_cas_writes` in `cluster.end`).
pub fn fail_on_plain_writes_to_cas_keys(verdicts: &mut [CheckVerdict], count: u64) {
    if count == 0 {
        return;
    }
    for v in verdicts
        .iter_mut()
        .filter(|v| CAS_CHECKS.contains(&v.name.as_str()))
    {
        v.detail("non_atomic_cas_writes", count);
        v.violation(|| {
            format!(
                "the cluster took {count} plain raw write(s) to keys a compare-and-swap used: \
                 TiKV latches only writes sent with for_cas (the client's atomic mode), so each \
                 could have landed inside a CAS, which is then not atomic"
            )
        });
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

#[cfg(test)]
mod cas_tests {
    use super::*;

    #[test]
    fn plain_writes_to_cas_keys_fail_the_checks_that_rest_on_cas() {
        let names = ["bank", "inventory", "lock", "readback"];
        let mut verdicts: Vec<CheckVerdict> = names.iter().map(|n| CheckVerdict::new(n)).collect();
        fail_on_plain_writes_to_cas_keys(&mut verdicts, 0);
        assert!(verdicts.iter().all(|v| v.passed), "none counted: all pass");
        fail_on_plain_writes_to_cas_keys(&mut verdicts, 3);
        let failed: Vec<&str> = verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(failed, ["inventory", "lock"]);
        assert!(verdicts[1].violations[0].contains("3 plain raw write(s)"));
        assert_eq!(verdicts[1].details["non_atomic_cas_writes"], 3);
    }
}
