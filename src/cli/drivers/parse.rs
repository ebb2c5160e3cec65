//! The text of `--start-at` and `--run-id`, checked.

use std::time::{Duration, UNIX_EPOCH};

/// `--start-at`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// A wall-clock instant, Unix microseconds.
    At(i64),
    /// `barrier[+LEAD]`: the lead.
    Barrier(Duration),
}

/// The lead of a bare `barrier`.
pub const DEFAULT_LEAD: Duration = Duration::from_secs(10);

/// How far ahead a start may be: farther is taken for a typo.
const HORIZON_US: i64 = 24 * 3600 * 1_000_000;

const FORMS: &str = "write an RFC 3339 time (2026-12-06T10:00:00Z, or with an offset such as +02:00), Unix seconds (@1796551200, fractions allowed: @1796551200.25), or barrier[+LEAD] (barrier, barrier+30s)";

/// Parses `--start-at` (or TIKV_BENCH_START_AT) with the wall clock at
/// `now_unix_us`: a time more than a day ahead is refused as a typo.
pub fn start_at(text: &str, now_unix_us: i64) -> Result<StartAt, String> {
    let flag = "--start-at (TIKV_BENCH_START_AT)";
    if let Some(rest) = text.strip_prefix("barrier") {
        let lead = match rest.strip_prefix('+') {
            None if rest.is_empty() => DEFAULT_LEAD,
            Some(lead) => humantime::parse_duration(lead).map_err(|e| {
                format!("{flag} '{text}': the lead '{lead}' is not a duration ({e}); write e.g. barrier+30s")
            })?,
            None => return Err(format!("{flag} '{text}' is not a start; {FORMS}")),
        };
        return Ok(StartAt::Barrier(lead));
    }
    let at = match text.strip_prefix('@') {
        Some(secs) => unix_seconds(secs),
        None => rfc3339(text),
    }
    .ok_or_else(|| format!("{flag} '{text}' is not a start; {FORMS}"))?;
    if at - now_unix_us > HORIZON_US {
        return Err(format!(
            "{flag} '{text}' is {:.1} hours ahead; a start more than 24 hours ahead is taken for a typo. Check the date, or start the drivers later",
            (at - now_unix_us) as f64 / 3.6e9
        ));
    }
    Ok(StartAt::At(at))
}

/// `1796551200` or `1796551200.25` (at most nanoseconds), in Unix
/// microseconds.
fn unix_seconds(text: &str) -> Option<i64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    int.parse::<i64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

/// An RFC 3339 time (`2026-12-06T10:00:00Z`, fractions allowed, or with
/// an offset `+02:00`), in Unix microseconds.
fn rfc3339(text: &str) -> Option<i64> {
    let (utc, offset_s) = split_offset(text)?;
    let t = humantime::parse_rfc3339(&utc).ok()?;
    let us = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_micros()).ok()?;
    Some(us - offset_s * 1_000_000)
}

/// The time with its offset replaced by `Z`, and the offset in seconds
/// (local time = UTC + offset).
fn split_offset(text: &str) -> Option<(String, i64)> {
    if !text.is_ascii() || text.len() <= 20 {
        return Some((text.to_string(), 0));
    }
    let (head, tail) = text.split_at(text.len() - 6);
    let b = tail.as_bytes();
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Some((text.to_string(), 0)),
    };
    if b[3] != b':' {
        return None;
    }
    let (h, m): (i64, i64) = (tail[1..3].parse().ok()?, tail[4..6].parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some((format!("{head}Z"), sign * (h * 3600 + m * 60)))
}

/// `--run-id`: it names a directory, so letters, digits, `.`, `_` and
/// `-` only, 1 to 128 of them, and not `.` or `..`.
pub fn run_id(id: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if (1..=128).contains(&id.len()) && id.chars().all(fine) && id != "." && id != ".." {
        return Ok(());
    }
    Err(format!(
        "--run-id (TIKV_BENCH_RUN_ID) '{id}': a run id names a directory, so write 1 to 128 of the letters A-Z a-z, digits, '.', '_' and '-' (not '.' or '..' alone), e.g. bench-2026-12-06"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06T10:00:00Z.
    const T: i64 = 1_796_551_200_000_000;

    #[test]
    fn start_at_reads_the_three_forms() {
        let now = T - 60_000_000;
        let at = |s: &str| start_at(s, now).unwrap();
        assert_eq!(at("2026-12-06T10:00:00Z"), StartAt::At(T));
        assert_eq!(at("2026-12-06T10:00:00.25Z"), StartAt::At(T + 250_000));
        assert_eq!(at("2026-12-06T12:00:00+02:00"), StartAt::At(T));
        assert_eq!(at("2026-12-06T05:30:00-04:30"), StartAt::At(T));
        assert_eq!(at("2026-12-06T10:00:00+00:00"), StartAt::At(T));
        assert_eq!(at("@1796551200"), StartAt::At(T));
        assert_eq!(at("@1796551200.5"), StartAt::At(T + 500_000));
        assert_eq!(at("@1796551200.0000019"), StartAt::At(T + 1));
        assert_eq!(at("barrier"), StartAt::Barrier(Duration::from_secs(10)));
        assert_eq!(
            at("barrier+1500ms"),
            StartAt::Barrier(Duration::from_millis(1500))
        );
        // Past instants are fine: the driver starts late.
        assert_eq!(start_at("@1", now).unwrap(), StartAt::At(1_000_000));
    }

    #[test]
    fn start_at_refuses_other_text_listing_the_forms() {
        let now = T;
        for bad in [
            "",
            "now",
            "10:00",
            "@",
            "@-5",
            "@1.2.3",
            "@1796551200.1234567890",
            "2026-12-06 10:00",
            "2026-12-06T10:00:00+2:00",
            "barrierX",
            "2026-12-06T10:00:00+25:00",
        ] {
            let e = start_at(bad, now).unwrap_err();
            assert!(
                e.contains("--start-at") && e.contains("barrier[+LEAD]"),
                "{bad}: {e}"
            );
        }
        let e = start_at("barrier+soon", now).unwrap_err();
        assert!(e.contains("the lead 'soon' is not a duration"), "{e}");
    }

    #[test]
    fn a_start_more_than_a_day_ahead_is_a_typo() {
        let day = 24 * 3600 * 1_000_000;
        assert_eq!(start_at("@1796637600", T), Ok(StartAt::At(T + day)));
        let e = start_at("@1796637601", T).unwrap_err();
        assert!(e.contains("more than 24 hours ahead"), "{e}");
        let e = start_at("2027-12-06T10:00:00Z", T).unwrap_err();
        assert!(e.contains("24 hours"), "{e}");
    }

    #[test]
    fn run_ids_name_a_directory() {
        for good in ["r", "bench-2026.12_06", &"x".repeat(128)] {
            assert_eq!(run_id(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(129)] {
            let e = run_id(bad).unwrap_err();
            assert!(e.contains("--run-id"), "{bad}: {e}");
        }
    }
}
