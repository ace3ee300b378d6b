//! Time formatting in each source's own style. No wall clock anywhere: every time is derived
//! from the options' start time.

use std::fmt::Write as _;

pub const SEC: i64 = 1_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(DAY);
    let rem = ms.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (rem / HOUR) as u32,
        minute: (rem % HOUR / MIN) as u32,
        second: (rem % MIN / SEC) as u32,
        milli: (rem % SEC) as u32,
    }
}

fn base(c: &Civil) -> String {
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// CloudTrail `eventTime`: whole seconds, `Z` (formats.md 1.1).
pub fn ct(ms: i64) -> String {
    let mut s = base(&civil(ms));
    s.push('Z');
    s
}

/// Okta `published` and Google `id.time`: always three fraction digits.
pub fn millis(ms: i64) -> String {
    let c = civil(ms);
    let mut s = base(&c);
    let _ = write!(s, ".{:03}Z", c.milli);
    s
}

/// Entra `createdDateTime`: seven fraction digits, the first three being the milliseconds (the
/// parsers truncate the rest, so the normalized time is exactly `ms`).
pub fn entra(ms: i64, sub_milli: u32) -> String {
    let c = civil(ms);
    let mut s = base(&c);
    let _ = write!(s, ".{:03}{:04}Z", c.milli, sub_milli % 10_000);
    s
}

/// Whole seconds with a `+00:00` offset (AD FS records' `createdDateTime`).
pub fn offset(ms: i64) -> String {
    let mut s = base(&civil(ms));
    s.push_str("+00:00");
    s
}

/// RFC 3339 for manifests, labels and truth: fraction only when not whole seconds.
pub fn rfc3339(ms: i64) -> String {
    let c = civil(ms);
    let mut s = base(&c);
    if c.milli != 0 {
        let _ = write!(s, ".{:03}", c.milli);
    }
    s.push('Z');
    s
}

/// `YYYYMMDD` (file names).
pub fn yyyymmdd(ms: i64) -> String {
    let c = civil(ms);
    format!("{:04}{:02}{:02}", c.year, c.month, c.day)
}

/// CloudTrail object key parts: (`YYYY`, `MM`, `DD`) and the `YYYYMMDDTHHmmZ` stamp.
pub fn ct_key_parts(ms: i64) -> ([String; 3], String) {
    let c = civil(ms);
    (
        [format!("{:04}", c.year), format!("{:02}", c.month), format!("{:02}", c.day)],
        format!("{:04}{:02}{:02}T{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute),
    )
}

/// STS `credentials.expiration` as CloudTrail writes it: `Nov 2, 2026, 10:00:03 AM`.
pub fn sts_expiration(ms: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let c = civil(ms);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    let month = MONTHS.get((c.month as usize).saturating_sub(1)).copied().unwrap_or("Jan");
    format!("{month} {}, {}, {h12}:{:02}:{:02} {ampm}", c.day, c.year, c.minute, c.second)
}

/// Floor of `ms` to the whole second (CloudTrail precision).
pub fn floor_sec(ms: i64) -> i64 {
    ms.div_euclid(SEC) * SEC
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV1: i64 = 1_793_491_200_000; // 2026-11-01T00:00:00Z

    #[test]
    fn formats_match_the_sources() {
        let t = NOV1 + 9 * HOUR + 4 * SEC + 123;
        assert_eq!(ct(t), "2026-11-01T09:00:04Z");
        assert_eq!(millis(t), "2026-11-01T09:00:04.123Z");
        assert_eq!(entra(t, 4567), "2026-11-01T09:00:04.1234567Z");
        assert_eq!(rfc3339(NOV1), "2026-11-01T00:00:00Z");
        assert_eq!(rfc3339(t), "2026-11-01T09:00:04.123Z");
        assert_eq!(yyyymmdd(t), "20261101");
        assert_eq!(offset(t), "2026-11-01T09:00:04+00:00");
        assert_eq!(trailproof_model::parse_time(&offset(t)), Ok(t - 123));
        assert_eq!(ct_key_parts(t).1, "20261101T0900Z");
        assert_eq!(sts_expiration(NOV1 + DAY + 22 * HOUR + 3 * SEC), "Nov 2, 2026, 10:00:03 PM");
        assert_eq!(sts_expiration(NOV1 + 3 * SEC), "Nov 1, 2026, 12:00:03 AM");
        assert_eq!(civil(NOV1 - 1).day, 31);
        assert_eq!(trailproof_model::parse_time(&entra(t, 4567)), Ok(t));
        assert_eq!(trailproof_model::parse_time(&millis(t)), Ok(t));
    }
}
