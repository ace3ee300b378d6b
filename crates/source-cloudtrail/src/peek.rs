//! Byte-level work done before (or instead of) a JSON parse: the prefilter that skips records
//! which cannot be kept events, and the time/scope peek that still counts them for coverage.

use crate::build::{parse_any_time, scope};
use memchr::memmem::Finder;
use std::sync::LazyLock;
use trailproof_model::Millis;

struct Needles {
    signin: Finder<'static>,
    sso: Finder<'static>,
    get_federation_token: Finder<'static>,
    assume_role_with_saml: Finder<'static>,
    event_time: Finder<'static>,
    lookup_event_time: Finder<'static>,
    timestamp: Finder<'static>,
    recipient_account_id: Finder<'static>,
    ecs_recipient_account_id: Finder<'static>,
    aws_region: Finder<'static>,
    dotted_cloud_region: Finder<'static>,
    dotted_cloud_account_id: Finder<'static>,
    cloud: Finder<'static>,
    region: Finder<'static>,
    account: Finder<'static>,
    id: Finder<'static>,
}

static NEEDLES: LazyLock<Needles> = LazyLock::new(|| Needles {
    signin: Finder::new("signin.amazonaws.com"),
    sso: Finder::new("sso.amazonaws.com"),
    get_federation_token: Finder::new("GetFederationToken"),
    assume_role_with_saml: Finder::new("AssumeRoleWithSAML"),
    event_time: Finder::new("eventTime"),
    lookup_event_time: Finder::new("EventTime"),
    timestamp: Finder::new("@timestamp"),
    recipient_account_id: Finder::new("recipientAccountId"),
    ecs_recipient_account_id: Finder::new("recipient_account_id"),
    aws_region: Finder::new("awsRegion"),
    dotted_cloud_region: Finder::new("cloud.region"),
    dotted_cloud_account_id: Finder::new("cloud.account.id"),
    cloud: Finder::new("cloud"),
    region: Finder::new("region"),
    account: Finder::new("account"),
    id: Finder::new("id"),
});

/// Whether `raw` holds the needle as a whole JSON string value: `"needle"`, or escaped inside
/// another string (`\"needle\"`, as in LookupEvents' `CloudTrailEvent` or ECS `event.original`).
/// This skips the far more frequent mentions inside ARNs, such as Identity Center role paths
/// `role/aws-reserved/sso.amazonaws.com/...`.
fn has_string_value(raw: &[u8], finder: &Finder) -> bool {
    let len = finder.needle().len();
    finder.find_iter(raw).any(|i| i > 0 && raw[i - 1] == b'"' && matches!(raw.get(i + len), Some(b'"') | Some(b'\\')))
}

/// The prefilter's four needles, found in one pass (aho-corasick's packed SIMD "Teddy" search
/// for a few short patterns) instead of one pass each: it runs on every record, and 99 % of them are
/// skipped. No needle's end is another's start (nor its own), so the non-overlapping matches are
/// every occurrence, as four separate searches would find them.
static PREFILTER: LazyLock<Option<aho_corasick::packed::Searcher>> = LazyLock::new(|| {
    aho_corasick::packed::Searcher::new([
        "signin.amazonaws.com",
        "sso.amazonaws.com",
        "GetFederationToken",
        "AssumeRoleWithSAML",
    ])
});

/// See [`crate::prefilter`].
pub(crate) fn prefilter(raw: &[u8]) -> bool {
    let Some(ac) = &*PREFILTER else { return prefilter_by_needle(raw) };
    ac.find_iter(raw).any(|m| match m.pattern().as_usize() {
        // A whole string value (see `has_string_value`).
        0 | 1 => m.start() > 0 && raw[m.start() - 1] == b'"' && matches!(raw.get(m.end()), Some(b'"') | Some(b'\\')),
        _ => true,
    })
}

/// The prefilter, one needle at a time: what [`prefilter`] must agree with (and its fallback,
/// where the CPU has no SIMD search for it).
fn prefilter_by_needle(raw: &[u8]) -> bool {
    let n = &*NEEDLES;
    has_string_value(raw, &n.signin)
        || has_string_value(raw, &n.sso)
        || n.get_federation_token.find(raw).is_some()
        || n.assume_role_with_saml.find(raw).is_some()
}

/// Skips JSON whitespace, and its escaped form (`\t`, `\n`, `\r` as two bytes) found when the
/// record is embedded in a string (a backslash cannot occur there in plain JSON).
fn skip_ws(raw: &[u8], mut j: usize) -> usize {
    loop {
        match raw.get(j) {
            Some(b' ' | b'\t' | b'\n' | b'\r') => j += 1,
            Some(b'\\') if matches!(raw.get(j + 1), Some(b't' | b'n' | b'r')) => j += 2,
            _ => return j,
        }
    }
}

/// Finds `"key": <value>` (or its escaped form `\"key\":\"value\"`) and returns the position
/// just after the colon and following whitespace.
fn after_key(raw: &[u8], key: &Finder, from: usize) -> Option<usize> {
    let hay = raw.get(from..)?;
    let len = key.needle().len();
    for i in key.find_iter(hay).map(|i| i + from) {
        if i == 0 || raw[i - 1] != b'"' {
            continue;
        }
        let mut j = i + len;
        while raw.get(j) == Some(&b'\\') {
            j += 1;
        }
        if raw.get(j) != Some(&b'"') {
            continue;
        }
        j = skip_ws(raw, j + 1);
        if raw.get(j) != Some(&b':') {
            continue;
        }
        return Some(skip_ws(raw, j + 1));
    }
    None
}

/// The text of the first `"key"`'s scalar value: a string's content (escaped or not; it ends
/// at the next quote or backslash) or a number's digits. `None` if absent, empty or not a scalar.
/// Borrowed from `raw`: the peek runs on every skipped record, and makes no string but the
/// scope.
fn scalar<'r>(raw: &'r [u8], key: &Finder) -> Option<&'r str> {
    let mut from = 0;
    while let Some(j) = after_key(raw, key, from) {
        from = j;
        let mut k = j;
        while raw.get(k) == Some(&b'\\') {
            k += 1;
        }
        let bytes = match raw.get(k) {
            Some(b'"') => {
                let start = k + 1;
                let end = memchr::memchr2(b'"', b'\\', raw.get(start..)?)? + start;
                &raw[start..end]
            }
            Some(b) if b.is_ascii_digit() || *b == b'-' => {
                let end = raw[k..]
                    .iter()
                    .position(|b| !(b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')))
                    .map_or(raw.len(), |p| p + k);
                &raw[k..end]
            }
            _ => continue,
        };
        let text = trim_value(std::str::from_utf8(bytes).ok()?);
        if !text.is_empty() {
            return Some(text);
        }
    }
    None
}

/// The bytes of the first `"key"`'s object value (`{` to its matching `}`, strings skipped).
fn object<'r>(raw: &'r [u8], key: &Finder) -> Option<&'r [u8]> {
    let mut from = 0;
    while let Some(j) = after_key(raw, key, from) {
        from = j;
        if raw.get(j) != Some(&b'{') {
            continue;
        }
        let mut depth = 0usize;
        let mut k = j;
        while k < raw.len() {
            match raw[k] {
                b'"' => {
                    // Skip the string, honouring escapes.
                    k += 1;
                    while k < raw.len() && raw[k] != b'"' {
                        k += if raw[k] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return raw.get(j..=k);
                    }
                }
                _ => {}
            }
            k += 1;
        }
        return None;
    }
    None
}

/// See [`crate::peek_time_scope`].
pub(crate) fn peek_time_scope(raw: &[u8]) -> (Option<Millis>, Option<String>) {
    let n = &*NEEDLES;
    let time = scalar(raw, &n.event_time)
        .or_else(|| scalar(raw, &n.lookup_event_time))
        .or_else(|| scalar(raw, &n.timestamp))
        .and_then(|t| plain_utc_time(t).or_else(|| parse_any_time(t).ok()));
    let cloud = || object(raw, &n.cloud);
    let account = scalar(raw, &n.recipient_account_id)
        .or_else(|| scalar(raw, &n.ecs_recipient_account_id))
        .or_else(|| scalar(raw, &n.dotted_cloud_account_id))
        .or_else(|| cloud().and_then(|c| object(c, &n.account)).and_then(|a| scalar(a, &n.id)));
    let region = account.and_then(|_| {
        scalar(raw, &n.aws_region)
            .or_else(|| scalar(raw, &n.dotted_cloud_region))
            .or_else(|| cloud().and_then(|c| scalar(c, &n.region)))
    });
    (time, scope(account, region))
}

/// `text.trim()`, without looking at its characters when its first and last bytes are ASCII
/// other than white space (as nearly every value is): no white space can then start or end it
/// (every white space character other than ASCII's is encoded with bytes of 0x80 and up).
fn trim_value(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(&f), Some(&l)) if (b'!'..0x80).contains(&f) && (b'!'..0x80).contains(&l) => text,
        _ => text.trim(),
    }
}

/// A time written `YYYY-MM-DDTHH:MM:SSZ`, as CloudTrail writes `eventTime`, read without the
/// general RFC 3339 parser (which costs more than the rest of the peek); `None` for any other
/// form, or a date or time out of range (the general parser then decides). Gives what
/// [`parse_any_time`] gives (property-tested).
fn plain_utc_time(t: &str) -> Option<Millis> {
    let b: &[u8; 20] = t.as_bytes().try_into().ok()?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0i64, |v, &c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1000 {
        return None;
    }
    // The calendar is the `time` crate's (out-of-range dates and times give `None`).
    let small = |v: i64| u8::try_from(v).ok();
    let date =
        time::Date::from_calendar_date(year as i32, time::Month::try_from(small(month)?).ok()?, small(day)?).ok()?;
    let at = time::Time::from_hms(small(hour)?, small(minute)?, small(second)?).ok()?;
    Some(date.with_time(at).assume_utc().unix_timestamp() * 1_000)
}

/// What the file pass seeks: the prefilter's four needles (ids 0 to 3, as in [`PREFILTER`]).
/// No two of them match at the same position (their first two bytes differ), so a search
/// restarted one byte after each match finds every occurrence of each. (The peek's keys are not
/// sought with them: they occur in every record, and a search that stops three times a record
/// took as long as the per-record searches it replaced.)
const FILE_NEEDLES: [&str; 4] =
    ["signin.amazonaws.com", "sso.amazonaws.com", "GetFederationToken", "AssumeRoleWithSAML"];

static FILE_SEARCHER: LazyLock<Option<aho_corasick::packed::Searcher>> =
    LazyLock::new(|| aho_corasick::packed::Searcher::new(FILE_NEEDLES));

/// The prefilter as one pass over a whole file of records instead of one over each record: every
/// occurrence of its needles found once in the file's bytes. A record that is a slice of those
/// bytes then gets [`prefilter`]'s answer from the occurrences inside it ([`FileScan::record`]),
/// exactly as [`prefilter`] gives it on the record's own bytes (a property test pins this).
///
/// Measured (BENCHMARKS.md, issue 18): no faster than the per-record prefilter on the
/// 10,000-user day. The search costs per byte searched, and either way every byte of the file is
/// searched once; what it saves is one call per record, which is small.
#[derive(Debug, Clone, Default)]
pub struct FileScan {
    /// (position in the file, needle id), in order of position.
    found: Vec<(usize, u8)>,
}

impl FileScan {
    /// Scans `file`; `None` where the CPU has no packed search (use the per-record functions).
    pub fn new(file: &[u8]) -> Option<FileScan> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512bw") {
            let mut found = Vec::new();
            // SAFETY: the CPU has AVX-512BW (checked just above).
            unsafe { find_needles_avx512(file, &mut found) };
            return Some(FileScan { found });
        }
        FileScan::by_teddy(file)
    }

    /// [`FileScan::new`] by aho-corasick's packed search (Teddy, AVX2 or SSSE3): where the CPU
    /// has no AVX-512BW, and the reference the AVX-512 search is tested against.
    fn by_teddy(file: &[u8]) -> Option<FileScan> {
        let searcher = FILE_SEARCHER.as_ref()?;
        let mut found = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let Some(m) = searcher.find_in(file, aho_corasick::Span::from(at..file.len())) else { break };
            found.push((m.start(), m.pattern().as_usize() as u8));
            at = m.start() + 1;
        }
        Some(FileScan { found })
    }

    /// The record `raw`, found at byte `offset` of the scanned file.
    pub fn record<'s, 'r>(&'s self, raw: &'r [u8], offset: usize) -> ScannedRecord<'s, 'r> {
        let end = offset + raw.len();
        let lo = self.found.partition_point(|&(p, _)| p < offset);
        let hi = lo + self.found[lo..].partition_point(|&(p, _)| p < end);
        ScannedRecord { raw, offset, found: &self.found[lo..hi] }
    }
}

/// For each of [`FILE_NEEDLES`] (in order), its first byte and another (offset, byte) that the
/// AVX-512 search compares at every position: the needle can only start where both match
/// (`signin.`'s dot, `sso.`'s dot, `GetF`'s `F`, `AssumeRoleWithS`'s `S`, which tells it from
/// `AssumeRoleWithWebIdentity`). Every place where one pair matches is then compared whole.
const FILE_PROBES: [(u8, usize, u8); 4] = [(b's', 6, b'.'), (b's', 3, b'.'), (b'G', 3, b'F'), (b'A', 14, b'S')];

/// The needle of [`FILE_NEEDLES`] that starts at `p` of `file`, if any, noted in `found`.
#[inline]
fn note_needle_at(file: &[u8], p: usize, found: &mut Vec<(usize, u8)>) {
    let rest = &file[p..];
    if let Some(id) = FILE_NEEDLES.iter().position(|n| rest.starts_with(n.as_bytes())) {
        found.push((p, id as u8));
    }
}

/// Every occurrence of [`FILE_NEEDLES`] in `file`, in order of position, into `found`: what
/// aho-corasick's packed search gives ([`FileScan::by_teddy`]; property-tested), 64 positions
/// at a time. Each 64-byte block is loaded at its start and at each probe's offset, compared with the
/// needles' [`FILE_PROBES`] into bit masks; the few positions left are compared whole. The
/// last bytes (where a load would pass the end) are compared position by position.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
fn find_needles_avx512(file: &[u8], found: &mut Vec<(usize, u8)>) {
    use std::arch::x86_64::*;
    // The farthest byte past a block's start that its loads read.
    const REACH: usize = {
        let (mut far, mut k) = (0, 0);
        while k < FILE_PROBES.len() {
            if FILE_PROBES[k].1 > far {
                far = FILE_PROBES[k].1;
            }
            k += 1;
        }
        far + 64
    };
    let eq = |x: __m512i, c: u8| _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c as i8));
    let mut i = 0;
    while i + REACH <= file.len() {
        // SAFETY: every load reads 64 bytes from `i` plus at most `REACH - 64`, inside `file`
        // (checked by the loop); they need no alignment.
        let at = unsafe { file.as_ptr().add(i) };
        let x0 = unsafe { _mm512_loadu_si512(at.cast()) };
        let mut m = 0u64;
        for &(first, off, byte) in &FILE_PROBES {
            // SAFETY: as above (`off` is at most `REACH - 64`).
            let x = unsafe { _mm512_loadu_si512(at.add(off).cast()) };
            m |= eq(x0, first) & eq(x, byte);
        }
        while m != 0 {
            let p = i + m.trailing_zeros() as usize;
            m &= m - 1;
            note_needle_at(file, p, found);
        }
        i += 64;
    }
    for p in i..file.len() {
        note_needle_at(file, p, found);
    }
}

/// A record and the occurrences a [`FileScan`] found inside it.
pub struct ScannedRecord<'s, 'r> {
    raw: &'r [u8],
    offset: usize,
    found: &'s [(usize, u8)],
}

impl ScannedRecord<'_, '_> {
    /// Where needle `id` occurs wholly inside the record, relative to its start.
    fn positions(&self, id: u8) -> impl Iterator<Item = usize> + '_ {
        let len = FILE_NEEDLES[id as usize].len();
        self.found
            .iter()
            .filter(move |&&(p, i)| i == id && p + len <= self.offset + self.raw.len())
            .map(|&(p, _)| p - self.offset)
    }

    /// [`prefilter`] of the record.
    pub fn prefilter(&self) -> bool {
        let raw = self.raw;
        (0..4u8).any(|id| {
            let len = FILE_NEEDLES[id as usize].len();
            self.positions(id).any(|s| match id {
                // A whole string value (see `has_string_value`).
                0 | 1 => s > 0 && raw[s - 1] == b'"' && matches!(raw.get(s + len), Some(b'"') | Some(b'\\')),
                _ => true,
            })
        })
    }

    /// [`peek_time_scope`] of the record (read from its own bytes).
    pub fn peek_time_scope(&self) -> (Option<Millis>, Option<String>) {
        peek_time_scope(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_prefilter_agrees_with_one_needle_at_a_time() {
        let cases: [&[u8]; 10] = [
            br#"{"eventSource":"sso.amazonaws.com"}"#,
            br#"{"eventSource":"signin.amazonaws.com","x":1}"#,
            br#"{"x":"{\"eventSource\":\"signin.amazonaws.com\"}"}"#,
            br#"{"arn":"arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/X"}"#,
            br#"{"eventSource":"portal.sso.amazonaws.com"}"#,
            br#"{"a":"sso.amazonaws.comsso.amazonaws.com","b":"sso.amazonaws.com"}"#,
            br#"{"eventName":"GetFederationToken"}"#,
            br#"{"requestParameters":{"x":"AssumeRoleWithSAMLy"}}"#,
            br#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}"#,
            b"sso.amazonaws.com\"",
        ];
        for raw in cases {
            assert_eq!(prefilter(raw), prefilter_by_needle(raw), "{}", String::from_utf8_lossy(raw));
        }
        assert_eq!(cases.map(prefilter), [true, true, true, false, false, true, true, true, false, false]);
    }

    proptest::proptest! {
        /// Records made of pieces of the needles, quotes and backslashes.
        #[test]
        fn one_pass_prefilter_agrees_on_needle_fragments(parts in proptest::collection::vec(
            proptest::sample::select(vec!["\"", "\\", "sso.amazonaws.com", "signin.amazonaws.com", "signin.", "sso",
                ".amazonaws.com", "GetFederationToken", "GetFederation", "AssumeRoleWithSAML", "AssumeRole", "x", ":"]),
            0..12,
        )) {
            let raw = parts.concat();
            proptest::prop_assert_eq!(prefilter(raw.as_bytes()), prefilter_by_needle(raw.as_bytes()), "{}", raw);
        }
    }

    /// What the file pass gives a record, against the per-record functions.
    fn agree(file: &[u8], start: usize, end: usize) -> Result<(), String> {
        let Some(scan) = FileScan::new(file) else { return Ok(()) };
        let raw = &file[start..end];
        let rec = scan.record(raw, start);
        let (by_file, by_record) = ((rec.prefilter(), rec.peek_time_scope()), (prefilter(raw), peek_time_scope(raw)));
        if by_file == by_record {
            Ok(())
        } else {
            Err(format!("{:?}: {by_file:?} against {by_record:?}", String::from_utf8_lossy(raw)))
        }
    }

    proptest::proptest! {
        /// The peek's trim is `str::trim` and [`scope`] the formatted `ACCOUNT/REGION`: ASCII,
        /// white space of every kind (ASCII's, no-break and ideographic spaces, line
        /// separators), other characters.
        #[test]
        fn peek_trim_and_scope_are_the_general_ones(
            a in proptest::collection::vec(proptest::sample::select(vec![
                " ", "\t", "\n", "\u{b}", "\u{c}", "\u{1c}", "\u{85}", "\u{a0}", "\u{2028}", "\u{3000}", "1", "x", "-", "\u{e9}", "\u{7f}", "~", "!",
            ]), 0..6),
            r in proptest::collection::vec(proptest::sample::select(vec![" ", "\u{a0}", "us-east-1", "\u{2003}", "!"]), 0..4),
            some in proptest::collection::vec(proptest::bool::ANY, 2),
        ) {
            let (a, r) = (a.concat(), r.concat());
            proptest::prop_assert_eq!(trim_value(&a), a.trim());
            proptest::prop_assert_eq!(trim_value(&r), r.trim());
            let (account, region) = (some[0].then_some(a.as_str()), some[1].then_some(r.as_str()));
            let formatted = account.zip(region).map(|(a, r)| format!("{}/{}", a.trim(), r.trim()));
            proptest::prop_assert_eq!(scope(account, region), formatted);
        }
    }

    #[test]
    fn file_probes_are_the_needles_bytes() {
        for (n, &(first, at, byte)) in FILE_NEEDLES.iter().zip(&FILE_PROBES) {
            assert_eq!((n.as_bytes()[0], n.as_bytes()[at]), (first, byte), "{n}");
        }
    }

    /// What the AVX-512 search finds, against aho-corasick's packed search (where the CPU has
    /// AVX-512BW; elsewhere `new` is that search).
    fn same_needles(file: &[u8]) -> Result<(), String> {
        let (Some(a), Some(b)) = (FileScan::new(file), FileScan::by_teddy(file)) else { return Ok(()) };
        if a.found == b.found {
            Ok(())
        } else {
            Err(format!("{:?}: {:?} against {:?}", String::from_utf8_lossy(file), a.found, b.found))
        }
    }

    proptest::proptest! {
        /// Needles whole, cut, look-alike (`AssumeRoleWithWebIdentity`, `sts.`), at any offset
        /// from a 64-byte block's start and in the last bytes of the file.
        #[test]
        fn avx512_needles_agree_with_the_packed_search(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "\"", "\\", "x", "s", "G", "A", ".", "F", "S", "sso.amazonaws.com", "signin.amazonaws.com", "signin.",
                "sso", ".amazonaws.com", "GetFederationToken", "GetF", "AssumeRoleWithSAML", "AssumeRoleWithS",
                "AssumeRoleWithWebIdentity", "sts.amazonaws.com", "abcdefghijklmnopqrstuvwxyz0123456789",
            ]), 0..60),
            skip in 0usize..64,
        ) {
            let file = format!("{}{}", "y".repeat(skip), parts.concat());
            let r = same_needles(file.as_bytes());
            proptest::prop_assert!(r.is_ok(), "{:?}", r);
        }
    }

    #[test]
    fn avx512_needles_are_found_at_every_place() {
        for pad in 0..150 {
            for n in FILE_NEEDLES {
                let x = "x".repeat(pad);
                for file in [format!("{x}{n}"), format!("{x}{n}{x}"), format!("\"{x}\":\"{n}\",\"{n}{n}\"")] {
                    same_needles(file.as_bytes()).unwrap();
                    assert!(FileScan::new(file.as_bytes()).is_some_and(|s| !s.found.is_empty()), "{file}");
                }
            }
        }
    }

    #[test]
    fn file_needles_never_start_at_one_place() {
        // What `FileScan::new` relies on to find every occurrence of each needle.
        for (i, a) in FILE_NEEDLES.iter().enumerate() {
            for b in &FILE_NEEDLES[i + 1..] {
                assert_ne!(a.as_bytes()[..2], b.as_bytes()[..2], "{a} {b}");
            }
        }
    }

    #[test]
    fn file_pass_agrees_on_real_records() {
        // Every published CloudTrail record kept in fixtures/real: the files as written, one
        // after another, each file and each line of it a stretch; and the records of those that
        // parse, re-written as one `Records` array, each record a stretch.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/cloudtrail");
        let (mut all, mut stretches, mut records) = (Vec::new(), Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".meta.json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            stretches.push((all.len(), all.len() + bytes.len()));
            let mut at = all.len();
            for line in bytes.split(|&b| b == b'\n') {
                stretches.push((at, at + line.len()));
                at += line.len() + 1;
            }
            all.extend_from_slice(&bytes);
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let list = v.get("Records").and_then(|r| r.as_array()).cloned().unwrap_or_else(|| vec![v]);
                records.extend(list.iter().map(|r| serde_json::to_vec(r).unwrap()));
            }
        }
        assert!(records.len() >= 20, "{} records", records.len());
        same_needles(&all).unwrap();
        for &(a, b) in &stretches {
            agree(&all, a, b).unwrap();
        }
        let mut file = b"{\"Records\":[".to_vec();
        let mut ranges = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                file.extend_from_slice(b",\n");
            }
            ranges.push((file.len(), file.len() + r.len()));
            file.extend_from_slice(r);
        }
        file.extend_from_slice(b"]}");
        let kept = ranges.iter().filter(|&&(a, b)| prefilter(&file[a..b])).count();
        assert!(kept > 0 && kept < ranges.len(), "{kept} of {}", ranges.len());
        for (a, b) in ranges {
            agree(&file, a, b).unwrap();
        }
    }

    proptest::proptest! {
        /// Any stretch of a file made of pieces of the needles, the keys the peek reads, their
        /// values, quotes, backslashes and braces gets the same answers from the file pass as
        /// from the per-record functions, wherever the stretch starts and ends.
        #[test]
        fn file_pass_agrees_on_any_stretch(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["\"", "\\", ":", " ", "\\n", "{", "}", ",", "x", "eventTime", "eventTim",
                    "ventTime", "EventTime", "@timestamp", "recipientAccountId", "recipient_account_id", "awsRegion",
                    "cloud", "account", "region", "id", "cloud.region", "2024-05-01T09:00:04Z", "1714554004.5",
                    "111122223333", "us-east-1", "sso.amazonaws.com", "signin.amazonaws.com", "signin.", "sso",
                    ".amazonaws.com", "GetFederationToken", "AssumeRoleWithSAML", "\"eventTime\":\"", "\"recipientAccountId\": \"",
                    "\"awsRegion\":\"", "\"eventSource\":\"", "\\\"eventTime\\\":\\\"", "\u{e9}", "\u{ff}"]),
                0..40,
            ),
            cuts in proptest::collection::vec(0usize..10_000, 2),
        ) {
            let file = parts.concat();
            let file = file.as_bytes();
            let (a, b) = (cuts[0] % (file.len() + 1), cuts[1] % (file.len() + 1));
            let (a, b) = (a.min(b), a.max(b));
            proptest::prop_assert!(agree(file, a, b).is_ok(), "{:?}", agree(file, a, b));
            proptest::prop_assert!(agree(file, 0, file.len()).is_ok(), "{:?}", agree(file, 0, file.len()));
        }
    }

    proptest::proptest! {
        /// The plain UTC form read on its own gives what the general parser gives: any digits
        /// in each field (days, months, hours out of range, leap years, February 29th), other
        /// separators, other lengths.
        #[test]
        fn plain_utc_time_agrees_with_the_general_parser(
            year in proptest::sample::select(vec![0u32, 999, 1000, 1600, 1899, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 2400, 9999]),
            month in 0u32..14, day in 0u32..33, hour in 0u32..26, minute in 0u32..62, second in 0u32..62,
            seps in proptest::sample::select(vec!["--T::Z", "--t::Z", "--T::z", "-- ::Z", "/-T::Z", "--T.:Z", "--T::+"]),
            tail in proptest::sample::select(vec!["", ".5", "0"]),
        ) {
            let s: Vec<char> = seps.chars().collect();
            let t = format!("{year:04}{}{month:02}{}{day:02}{}{hour:02}{}{minute:02}{}{second:02}{tail}{}", s[0], s[1], s[2], s[3], s[4], s[5]);
            if let Some(ms) = plain_utc_time(&t) {
                proptest::prop_assert_eq!(Ok(ms), parse_any_time(&t), "{}", t);
            } else {
                // Only what the fast form does not take is left to the general parser.
                proptest::prop_assert!(
                    seps != "--T::Z" || !tail.is_empty() || year < 1000 || parse_any_time(&t).is_err(),
                    "{}", t
                );
            }
        }
    }

    #[test]
    fn plain_utc_time_reads_cloudtrail_times() {
        for t in ["2024-05-01T09:00:04Z", "1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "2000-03-01T00:00:00Z"] {
            assert_eq!(plain_utc_time(t), parse_any_time(t).ok(), "{t}");
            assert!(plain_utc_time(t).is_some(), "{t}");
        }
        for t in ["2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T09:00:60Z", "2024-05-01 09:00:04Z"] {
            assert_eq!(plain_utc_time(t), None, "{t}");
        }
    }

    /// Every `eventTime` of the published CloudTrail records in fixtures/real (provenance in
    /// their .meta.json files): the fast path reads each one written as CloudTrail writes it, and as
    /// the general parser does.
    #[test]
    fn plain_utc_time_reads_every_real_event_time() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/cloudtrail");
        let mut times = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".meta.json") {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap()) else { continue };
            let list = v.get("Records").and_then(|r| r.as_array()).cloned().unwrap_or_else(|| vec![v]);
            times.extend(list.iter().filter_map(|r| r.get("eventTime")?.as_str().map(str::to_string)));
        }
        let mut fast = 0;
        for t in &times {
            match plain_utc_time(t) {
                Some(ms) => {
                    fast += 1;
                    assert_eq!(Ok(ms), parse_any_time(t), "{t}");
                }
                // Another form (a Lake or Athena export's `2024-06-03 15:23:22.000000000`): the
                // general parser reads it, as before.
                None => {
                    assert!(!t.ends_with('Z') || t.len() != 20, "CloudTrail's own form left to the general parser: {t}")
                }
            }
        }
        assert!(fast >= 20, "{fast} of {} event times read by the fast path", times.len());
    }

    #[test]
    fn string_value_boundaries() {
        let n = &*NEEDLES;
        assert!(has_string_value(br#"{"eventSource":"sso.amazonaws.com"}"#, &n.sso));
        assert!(has_string_value(br#"{"x":"{\"eventSource\":\"sso.amazonaws.com\"}"}"#, &n.sso));
        assert!(!has_string_value(br#"{"arn":"arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/X"}"#, &n.sso));
        assert!(!has_string_value(br#"{"eventSource":"portal.sso.amazonaws.com"}"#, &n.sso));
        assert!(!has_string_value(br#"sso.amazonaws.com"#, &n.sso));
    }

    #[test]
    fn scalar_reads_plain_escaped_and_numbers() {
        let n = &*NEEDLES;
        assert_eq!(scalar(br#"{"eventTime" :  "2024-05-01T09:00:04Z"}"#, &n.event_time), Some("2024-05-01T09:00:04Z"));
        assert_eq!(
            scalar(br#"{"C":"{\"eventTime\":\"2024-05-01T09:00:04Z\"}"}"#, &n.event_time),
            Some("2024-05-01T09:00:04Z")
        );
        assert_eq!(scalar(br#"{"EventTime": 1714554004.0}"#, &n.lookup_event_time), Some("1714554004.0"));
        // A mention that is not a key is skipped.
        assert_eq!(scalar(br#"{"a":"eventTime","eventTime":"x"}"#, &n.event_time), Some("x"));
        assert_eq!(scalar(br#"{"eventTime":null}"#, &n.event_time), None);
        assert_eq!(scalar(br#"{"eventTime":""}"#, &n.event_time), None);
        assert_eq!(scalar(br#"{"eventTime":"#, &n.event_time), None);
    }

    #[test]
    fn object_is_balanced_and_string_aware() {
        let n = &*NEEDLES;
        let raw = br#"{"x":1,"cloud":{"a":"}{\"","account":{"id":"1"},"region":"r"},"y":{}}"#;
        assert_eq!(object(raw, &n.cloud), Some(&br#"{"a":"}{\"","account":{"id":"1"},"region":"r"}"#[..]));
        assert_eq!(object(br#"{"cloud":{"a":1"#, &n.cloud), None);
    }
}
