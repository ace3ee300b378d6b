//! Plausible record times.
//!
//! A record's time bounds the coverage an import vouches for (the span of the records read), so
//! one record dated 9999-12-31 would vouch for every later session, and one dated 1970 for every
//! earlier one. A time before the source's records can exist, or later than the import's `now`
//! plus an allowed clock skew, is a clock or export error, not a fact: the record is quarantined
//! with the reason (so its file withholds its stretch of coverage, like any problem file) and
//! its time extends nothing. Separately, no import records coverage past `now` (see
//! `crate::import`): records slightly in the future (within the skew) are kept, but they vouch for
//! nothing beyond the present.
//!
//! # The floors
//!
//! - CloudTrail: 2013-11-01. AWS launched CloudTrail in November 2013 ("AWS CloudTrail – Capture
//!   AWS API Activity", AWS News Blog, <https://aws.amazon.com/blogs/aws/aws-cloudtrail-capture-aws-api-activity/>);
//!   no CloudTrail record is older.
//! - Okta, Entra ID, AD FS (as Entra's diagnostic logs carry it), Google Workspace: 2006-01-01,
//!   one conservative floor before the first of these services (Google Apps for Your Domain,
//!   2006; Okta, 2009; Azure AD, 2010; the sign-in log APIs trailproof reads are later still).
//!   These dates are the vendors' public histories, not checked against a primary source here
//!   (UNCONFIRMED); the floor is kept early enough that an error in them cannot quarantine a
//!   genuine record.

use trailproof_model::{DAY_MS, Millis, Source, format_ms};

/// The default allowed skew into the future: one day (configuration `import.future_skew_hours`).
pub const DEFAULT_FUTURE_SKEW_MS: Millis = DAY_MS;

/// 2013-11-01T00:00:00Z.
const CLOUDTRAIL_FLOOR: Millis = 1_383_264_000_000;
/// 2006-01-01T00:00:00Z.
const IDP_FLOOR: Millis = 1_136_073_600_000;

/// The earliest time a record of `source` can carry (see the module docs).
pub fn floor(source: Source) -> Millis {
    match source {
        Source::Cloudtrail => CLOUDTRAIL_FLOOR,
        Source::Okta | Source::Entra | Source::Adfs | Source::Google => IDP_FLOOR,
    }
}

/// Why `t` is not a plausible time for a record of `source` read at `now_ms`, or `None`.
pub fn implausible(source: Source, t: Millis, now_ms: Millis, future_skew_ms: Millis) -> Option<String> {
    let latest = now_ms.saturating_add(future_skew_ms.max(0));
    if t > latest {
        return Some(format!(
            "implausible time {}: later than now ({}) plus the allowed skew of {} (import.future_skew_hours); a clock or export error, so this record vouches for no coverage",
            format_ms(t),
            format_ms(now_ms),
            skew_text(future_skew_ms)
        ));
    }
    let floor = floor(source);
    if t < floor {
        return Some(format!(
            "implausible time {}: earlier than {}, before any {source} record can exist; a clock or export error, so this record vouches for no coverage",
            format_ms(t),
            format_ms(floor)
        ));
    }
    None
}

fn skew_text(ms: Millis) -> String {
    let h = ms / 3_600_000;
    if h % 24 == 0 && h > 0 { format!("{} day(s)", h / 24) } else { format!("{h} hour(s)") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailproof_model::parse_time;

    #[test]
    fn floors_and_the_future_bound() {
        let now = parse_time("2026-12-06T00:00:00Z").unwrap();
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(format_ms(floor(Source::Cloudtrail)), "2013-11-01T00:00:00Z");
        assert_eq!(format_ms(floor(Source::Okta)), "2006-01-01T00:00:00Z");
        assert!(implausible(Source::Okta, t("2026-12-06T23:59:59Z"), now, DAY_MS).is_none());
        let why = implausible(Source::Okta, t("9999-12-31T23:59:59Z"), now, DAY_MS).unwrap();
        assert!(why.contains("later than now") && why.contains("1 day(s)"), "{why}");
        assert!(implausible(Source::Okta, t("2026-12-07T00:00:01Z"), now, DAY_MS).is_some());
        assert!(implausible(Source::Okta, t("2026-12-07T00:00:01Z"), now, 2 * DAY_MS).is_none());
        let why = implausible(Source::Cloudtrail, t("2013-10-31T23:59:59Z"), now, DAY_MS).unwrap();
        assert!(why.contains("before any cloudtrail record"), "{why}");
        assert!(implausible(Source::Cloudtrail, t("2013-11-13T00:00:00Z"), now, DAY_MS).is_none());
        assert!(implausible(Source::Google, 0, now, DAY_MS).is_some());
        assert!(implausible(Source::Google, t("2012-01-01T00:00:00Z"), now, 0).is_none());
    }
}
