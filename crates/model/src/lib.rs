//! Domain types of trailproof. No I/O.
//!
//! Every source crate turns one raw record into a [`Parsed`] value made of these types, the store
//! persists them, and the correlator judges sessions from them. Times are UTC milliseconds since the
//! Unix epoch ([`Millis`]) everywhere; [`time`] parses and formats them.

pub mod aws;
pub mod config;
pub mod ecs;
pub mod idp;
pub mod scalar;
pub mod snapshot;
pub mod text;
pub mod time;
pub mod verdict;

pub use aws::{AwsEvent, AwsEventKind};
pub use idp::{AwsAppRule, GoogleLogin, Idp, IdpEvent, IdpEventKind, MfaClaim, UserKeys};
pub use text::{inert, inert_lines};
pub use time::{DAY_MS, Millis, format_ms, now_ms, parse_time};

use serde::{Deserialize, Serialize};

/// Where records come from. The string forms are used in the CLI, the store and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Cloudtrail,
    Okta,
    Entra,
    Google,
    /// AD FS's own sign-ins, as Entra's diagnostic logs carry them (`ADFSSignInLogs`).
    Adfs,
}

impl Source {
    pub const ALL: [Source; 5] = [Source::Cloudtrail, Source::Okta, Source::Entra, Source::Google, Source::Adfs];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cloudtrail => "cloudtrail",
            Source::Okta => "okta",
            Source::Entra => "entra",
            Source::Google => "google",
            Source::Adfs => "adfs",
        }
    }

    /// The IdP whose sign-ins this source holds (`None` for CloudTrail).
    pub fn idp(self) -> Option<Idp> {
        match self {
            Source::Cloudtrail => None,
            Source::Okta => Some(Idp::Okta),
            Source::Entra => Some(Idp::Entra),
            Source::Google => Some(Idp::Google),
            Source::Adfs => Some(Idp::Adfs),
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of an event as the source reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, get_size2::GetSize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    /// The source states no result, or one we do not recognise (kept in the raw record).
    #[default]
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Outcome {
        match s {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            _ => Outcome::Unknown,
        }
    }
}

/// What a source parser made of one raw record.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<E> {
    /// The record matters for sign-in judgement. `native_id` is the source's own dedupe key
    /// (CloudTrail `eventID`, Okta `uuid`, Entra `id`, Google `id.applicationName` + `id.time` +
    /// `id.uniqueQualifier`).
    /// `events` holds one normalized event per logical event in the record (a Google activity
    /// can carry several); it is never empty.
    Relevant { native_id: String, events: Vec<E> },
    /// A well-formed record that trailproof does not need (ordinary API calls, other apps'
    /// admin events). Its time and scope still count for coverage when known.
    Irrelevant { time_ms: Option<Millis>, scope: Option<String> },
}

/// Why a record could not be used. The message is shown to users next to the record's
/// location, so it says what is wrong in the record's own terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` has an unusable value {value:?}: {why}")]
    Invalid { field: &'static str, value: String, why: String },
    #[error("not a {expected} record: {why}")]
    WrongShape { expected: &'static str, why: String },
}

impl ParseError {
    pub fn invalid(field: &'static str, value: impl Into<String>, why: impl Into<String>) -> Self {
        let mut value = value.into();
        if value.len() > 120 {
            let mut cut = 120;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        ParseError::Invalid { field, value, why: why.into() }
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Json(e.to_string())
    }
}

/// Case-folds an identity key the way every matcher in trailproof compares them.
pub fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}
