//! Times: UTC milliseconds since the Unix epoch, parsed tolerantly from what the sources send.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// UTC milliseconds since the Unix epoch. Every time in trailproof is one of these.
pub type Millis = i64;

/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// Now, in milliseconds since the Unix epoch (0 on a clock set before 1970): the workspace's one
/// reading of the wall clock.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
}

/// Parses a source time stamp into UTC milliseconds.
///
/// Accepts RFC 3339 with 0 to 9 fractional digits (extra digits are truncated, never rounded),
/// `Z`, `z` or a numeric offset, a space instead of `T`, a missing offset (read as UTC, which is
/// what CloudTrail, Okta, Graph and the Reports API all use), and the ISO 8601 basic form
/// `20131102T010628Z` seen in old CloudTrail `creationDate` values.
pub fn parse_time(s: &str) -> Result<Millis, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty time stamp".into());
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(to_ms(dt));
    }
    // Normalise the common deviations and try again.
    let mut n = t.replace(' ', "T");
    if let Some(last) = n.pop() {
        n.push(if last == 'z' { 'Z' } else { last });
    }
    if n.len() >= 11 && n.as_bytes()[10] == b't' {
        n.replace_range(10..11, "T");
    }
    if let Ok(dt) = OffsetDateTime::parse(&n, &Rfc3339) {
        return Ok(to_ms(dt));
    }
    // No offset at all: UTC.
    if let Ok(dt) = OffsetDateTime::parse(&format!("{n}Z"), &Rfc3339) {
        return Ok(to_ms(dt));
    }
    // Basic form 20131102T010628Z.
    let basic = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    if let Ok(dt) = PrimitiveDateTime::parse(&n, &basic) {
        return Ok(to_ms(dt.assume_offset(UtcOffset::UTC)));
    }
    Err(format!("not an RFC 3339 time stamp: {t:?}"))
}

fn to_ms(dt: OffsetDateTime) -> Millis {
    let nanos = dt.unix_timestamp_nanos();
    // Floor division so that times before 1970 truncate consistently too.
    nanos.div_euclid(1_000_000) as Millis
}

/// Formats milliseconds as RFC 3339 UTC: `2026-11-01T09:00:04Z`, or with `.123` when the
/// milliseconds are not zero.
pub fn format_ms(ms: Millis) -> String {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000) else {
        return format!("@{ms}ms");
    };
    let (y, mo, d) = (dt.year(), dt.month() as u8, dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_714_554_004_000; // 2024-05-01T09:00:04Z

    #[test]
    fn fractional_digits_zero_to_seven_all_parse() {
        assert_eq!(parse_time("2024-05-01T09:00:04Z"), Ok(T0));
        assert_eq!(parse_time("2024-05-01T09:00:04.1Z"), Ok(T0 + 100));
        assert_eq!(parse_time("2024-05-01T09:00:04.12Z"), Ok(T0 + 120));
        assert_eq!(parse_time("2024-05-01T09:00:04.123Z"), Ok(T0 + 123));
        assert_eq!(parse_time("2024-05-01T09:00:04.1234Z"), Ok(T0 + 123));
        assert_eq!(parse_time("2024-05-01T09:00:04.6195833Z"), Ok(T0 + 619));
        assert_eq!(parse_time("2024-05-01T09:00:04.999999999Z"), Ok(T0 + 999));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(parse_time("2024-05-01T09:00:04+00:00"), Ok(T0));
        assert_eq!(parse_time("2024-05-01T11:00:04+02:00"), Ok(T0));
        assert_eq!(parse_time("2024-05-01T09:00:04.000-00:00"), Ok(T0));
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(parse_time("2024-05-01 09:00:04Z"), Ok(T0));
        assert_eq!(parse_time("2024-05-01t09:00:04z"), Ok(T0));
        assert_eq!(parse_time("2024-05-01T09:00:04"), Ok(T0));
        assert_eq!(parse_time("20240501T090004Z"), Ok(T0));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_time("").is_err());
        assert!(parse_time("May 1, 2024, 10:00:03 AM").is_err());
        assert!(parse_time("2024-13-01T00:00:00Z").is_err());
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_ms(T0), "2024-05-01T09:00:04Z");
        assert_eq!(format_ms(T0 + 7), "2024-05-01T09:00:04.007Z");
        assert_eq!(parse_time(&format_ms(T0 + 7)), Ok(T0 + 7));
    }
}
