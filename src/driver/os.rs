//! What the driver asks of the operating system, in one place (the only
//! `unsafe` code of the driver): the process's CPU time, for the
//! self-check, precise sleeps for the pacing thread, and the host name.

use std::time::{Duration, Instant};

use crate::metrics::CpuUse;

/// The CPU time (user + system, every thread) the process has used so far;
/// `None` where the OS does not tell.
pub fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills in the rusage the pointer points at; the
        // memory is ours, zeroed, and of the right type.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: getrusage succeeded, so it initialised the struct (which
        // was zeroed before, a valid rusage in any case).
        let usage = unsafe { usage.assume_init() };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Some(time(usage.ru_utime) + time(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A reading of the process's CPU time and the instant it was taken: the
/// start of a span whose CPU use is wanted.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    at: Instant,
    cpu: Duration,
}

impl CpuMark {
    /// Reads the process's CPU time now; `None` where the OS does not tell.
    pub fn now() -> Option<CpuMark> {
        Some(CpuMark {
            at: Instant::now(),
            cpu: process_cpu()?,
        })
    }

    /// The process's CPU use from this mark to `until`, reading its CPU
    /// time now; `closed_loop` decides whether it may be judged saturated.
    pub fn use_until(&self, until: Instant, closed_loop: bool) -> Option<CpuUse> {
        let cpu = process_cpu()?.saturating_sub(self.cpu);
        let wall = until.saturating_duration_since(self.at);
        let us = |d: Duration| d.as_micros().min(u128::from(u64::MAX)) as u64;
        Some(CpuUse::new(us(cpu), us(wall), cores(), closed_loop))
    }
}

/// Makes the calling thread's timed sleeps precise: Linux lets a sleep
/// overshoot by the thread's timer slack, 50 us by default, so that it can
/// batch wake-ups; the pacing thread sets its own to 1 ns. Elsewhere, and
/// if the call fails, sleeps keep the OS's default precision (the pacer's
/// spin covers it, at some CPU).
pub fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_TIMERSLACK takes the slack in nanoseconds as its
        // one argument and affects only the calling thread.
        let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    }
}

/// The cores this process may run on.
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// This machine's host name (in Kubernetes, the pod's name); `None` where
/// the OS does not tell.
pub fn host_name() -> Option<String> {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most `len` bytes into the buffer,
        // which is ours and that long.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        // Truncated names may lack the terminating NUL: take what is there.
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).into_owned();
        (!name.is_empty()).then_some(name)
    }
    #[cfg(not(unix))]
    {
        None
    }
}
