//! Standard output that a closed pipe ends quietly: `tikv-bench run ... |
//! head -1` must not panic half-way (Rust's `print!` panics on a broken
//! pipe) and must still write the result and the report. After the first
//! broken pipe, further output is dropped; other write errors are dropped
//! too, since what they would say is in the files the run writes.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output, unless the reader has gone.
pub(crate) fn write(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush())
        && e.kind() == ErrorKind::BrokenPipe
    {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `print!` that a closed pipe ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// `println!` that a closed pipe ends quietly.
macro_rules! sayln {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {say, sayln};
