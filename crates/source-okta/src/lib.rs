//! Okta System Log parser: one `LogEvent` (an element of the JSON array that
//! `GET /api/v1/logs` returns) in, one normalized [`IdpEvent`] out.
//!
//! # Formats accepted
//!
//! A single System Log `LogEvent` object, as the API returns it (formats.md 2.1), including copies
//! that passed through a SIEM and gained fields (Panther's `p_*` fields are ignored like any
//! unknown field). The splitter upstream unwraps API pages (JSON arrays) and NDJSON; this crate
//! sees one object at a time. Unknown fields are ignored, every field may be `null` or absent,
//! `target` may be `null`, `[]` or hold `null` elements, `debugData` / `detailEntry` may be any
//! JSON value. `published` is RFC 3339 with or without fraction digits, and the space-separated
//! form SIEM exports use (`2024-04-02 19:17:37.621000000`) is read as UTC.
//!
//! A record is rejected ([`ParseError`]) when it is not JSON, not an object, has no `eventType`
//! (an object from another source), has neither `uuid` nor `published`, or has a `published` that
//! is not a time stamp. A kept event (see below) also needs `uuid` and `published`.
//!
//! # Elastic documents (decision D5 of issue 15)
//!
//! An object without `eventType` but with Elastic Common Schema keys (`okta`, `event`,
//! `@timestamp`) is a document of the Elastic `okta` integration's `system` data stream. Its
//! `event.original`, when kept and when it is a LogEvent, is read as above (D6: the envelope
//! adds nothing). Otherwise the LogEvent is rebuilt from the fields Elastic's ingest pipeline
//! renamed it into and read by the same rules: `okta.uuid` (else `event.id`), `@timestamp`,
//! `okta.event_type` (else `event.action`), `okta.actor.*`, `okta.client.ip` (else `client.ip`),
//! `okta.client.user_agent.raw_user_agent` (else `user_agent.original`), `client.geo.country_name`,
//! `okta.outcome.*`, `okta.target[]`, `okta.authentication_context.*`,
//! `okta.security_context.as.*`, `okta.debug_context.debug_data.factor` (else its `flattened`
//! copy), `okta.request.ip_chain[]` (the table is in the `ecs` module's docs). What the document
//! does not carry is absent: the current pipeline drops the targets' `detailEntry` (so an
//! enrollment's `methodTypeUsed`), and `source.geo` / `source.as` are Elastic's own GeoIP, not
//! Okta's, so they are not read. Errors name the Elastic fields (`okta.uuid`, `@timestamp`). Two
//! real documents of Elastic's test (an SSO and an auth_via_mfa) give exactly the event of the
//! LogEvent in their `event.original` (`tests/real_records.rs`).
//!
//! # Kept events ([`KEPT_EVENT_TYPES`], formats.md 2.2)
//!
//! | `eventType` | kind | outcome |
//! |---|---|---|
//! | `user.session.start` | `SessionStart` | from `outcome.result` |
//! | `user.authentication.sso` | `AppSso` | from `outcome.result` |
//! | `user.authentication.auth_via_mfa` | `FactorVerified` on SUCCESS/ALLOW, else `FactorFailed` | from `outcome.result` |
//! | `user.authentication.verify` | as `auth_via_mfa` | from `outcome.result` |
//! | `policy.evaluate_sign_on` | `PolicyEvaluated` | from `outcome.result` |
//! | `user.authentication.auth_via_IDP` | `UpstreamAuth` | from `outcome.result` |
//! | `user.session.end` | `SessionEnd` | from `outcome.result` |
//! | `user.mfa.okta_verify.deny_push` | `FactorFailed` | always `Failure` |
//! | `application.policy.sign_on.deny_access` | `AppSso` | always `Failure` |
//!
//! Event types are matched ignoring ASCII case. Every other event is
//! `Parsed::Irrelevant { time_ms: published, scope: None }`.
//!
//! # Field mapping
//!
//! - `native_id` = `event_id` = `uuid`; `tenant` = `None` (a LogEvent does not name its org);
//!   `native_type` = `eventType`; `time_ms` = `published`.
//! - outcome: `outcome.result` SUCCESS/ALLOW → success, FAILURE/DENY → failure, anything else
//!   (CHALLENGE, SKIPPED, UNKNOWN, absent) → unknown. `outcome_reason` = `outcome.reason`, prefixed
//!   by the raw result (`"CHALLENGE"`, `"ALLOW: Sign-on policy evaluation resulted in ALLOW"`)
//!   whenever the result is not plainly SUCCESS/FAILURE matching the outcome.
//! - user keys: when `actor.type` is `User` (or absent), `login` = `actor.alternateId`,
//!   `user_id` = `actor.id`, `display_name` = `actor.displayName`; for other actor types they come
//!   from the `target` of type `User`, if any. `email` = `login` when it looks like an address
//!   (`local@domain.tld`). `app_username` = `alternateId` of the `AppUser` target.
//! - `app_id` / `app_name` = `id` / `displayName` (else `alternateId`) of the `AppInstance` target.
//! - `session_id` = `authenticationContext.externalSessionId`.
//! - `source_ip` = `client.ipAddress`, else the first `request.ipChain[].ip`;
//!   `user_agent` = `client.userAgent.rawUserAgent`; `country` = `client.geographicalContext.country`,
//!   else that of the `ipChain` hop holding `source_ip`.
//! - `asn` = `securityContext.asNumber` (a number or a numeric string, `AS` prefix allowed);
//!   `as_org` = `securityContext.asOrg`.
//! - Placeholders mean absent: in every identity, app, session, network and geo field above,
//!   `""`, `"unknown"` and `"null"` (any case) are read as `None`. Okta writes `"unknown"` for
//!   the actor id of failed logins, for `externalSessionId` and for target `alternateId`s, and
//!   the string `"null"` for `client.zone`; the elastic test logs show `rawUserAgent: "unknown"`.
//! - `auth_requirement` is always `None` (an Entra notion).
//!
//! # MFA reading rules (formats.md 2.2; design.md "How a session is judged", step 5)
//!
//! The factor name of a factor event is `debugContext.debugData.factor` (e.g. `OKTA_VERIFY_PUSH`,
//! `FIDO_WEBAUTHN`), else the `AuthenticatorEnrollment` target's `detailEntry.methodTypeUsed`,
//! else its `displayName`, else `authenticationContext.credentialType`.
//!
//! - `user.authentication.auth_via_mfa` / `user.authentication.verify` with outcome success:
//!   - all the names present say *password* (`password`, `PASSWORD`, `Password`, `OKTA_PASSWORD`:
//!     the word "password" without "one-time"/"OTP"/"passcode") → [`MfaClaim::SingleFactor`],
//!     factors `["Password"]`. formats.md 2.2 shows `auth_via_mfa` carrying a *Password*
//!     `AuthenticatorEnrollment` (Sekoia fixture): not every `auth_via_mfa` is a second factor.
//!   - they name a non-password authenticator and none says password →
//!     [`MfaClaim::Verified`], factors `[factor name]`.
//!   - nothing names the authenticator (no debug factor, no enrollment target, and a
//!     `credentialType` that is absent or is not one of PASSWORD/OTP/SMS/EMAIL), or the names
//!     contradict each other (one says password, another a factor), or the factor is a security
//!     question (a knowledge factor, not possession/biometric) → [`MfaClaim::Silent`]: a parser
//!     never guesses `Verified`. The factors then list the names seen.
//! - the same events with outcome failure, and every `user.mfa.okta_verify.deny_push` →
//!   [`MfaClaim::Failed`] (factors: the factor name; `OKTA_VERIFY_PUSH` for a deny_push that names
//!   none). With an unknown outcome (CHALLENGE...) they are `Silent`.
//! - `user.authentication.auth_via_IDP` with outcome success → [`MfaClaim::Upstream`] (the factor,
//!   if any, happened at the other IdP); a failed one proves nothing → `Silent`.
//! - `user.session.start` → `Silent`, factors = `credentialType` when given (e.g. `PASSWORD`).
//! - `policy.evaluate_sign_on`, `user.authentication.sso`, `user.session.end`,
//!   `application.policy.sign_on.deny_access` → `Silent`, no factors.
//!
//! Joining these per-event claims into a session verdict (following `externalSessionId` from an
//! SSO back to a verified factor, formats.md 2.2 "Correlation rules") is the correlator's job.
//!
//! # Server-side filter
//!
//! [`api_filter`] builds the SCIM `filter` parameter for `/api/v1/logs` (formats.md 2.3) from
//! [`KEPT_EVENT_TYPES`], so the collector fetches only what this parser keeps.

mod ecs;
pub mod fetch;
mod mfa;
mod raw;

#[cfg(test)]
mod tests;

pub use trailproof_model::{IdpEvent, ParseError, Parsed};

use mfa::FactorEvidence;
use raw::{Entity, LogEvent, Text};
use trailproof_model::{Idp, IdpEventKind, MfaClaim, Outcome, UserKeys, parse_time};

/// The `eventType` values this parser keeps; everything else is `Irrelevant`.
pub const KEPT_EVENT_TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.authentication.verify",
    "policy.evaluate_sign_on",
    "user.authentication.auth_via_IDP",
    "user.session.end",
    "user.mfa.okta_verify.deny_push",
    "application.policy.sign_on.deny_access",
];

/// The SCIM filter for `/api/v1/logs` selecting [`KEPT_EVENT_TYPES`]:
/// `eventType eq "a" or eventType eq "b" ...`.
pub fn api_filter() -> String {
    KEPT_EVENT_TYPES.iter().map(|t| format!("eventType eq \"{t}\"")).collect::<Vec<_>>().join(" or ")
}

const EXPECTED: &str = "valid Okta System Log";

/// What a kept event type is, before its outcome is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    SessionStart,
    Sso,
    AuthViaMfa,
    Verify,
    PolicyEvaluate,
    AuthViaIdp,
    SessionEnd,
    DenyPush,
    DenyAccess,
}

fn kept(event_type: &str) -> Option<Kept> {
    const TABLE: [(&str, Kept); 9] = [
        ("user.session.start", Kept::SessionStart),
        ("user.authentication.sso", Kept::Sso),
        ("user.authentication.auth_via_mfa", Kept::AuthViaMfa),
        ("user.authentication.verify", Kept::Verify),
        ("policy.evaluate_sign_on", Kept::PolicyEvaluate),
        ("user.authentication.auth_via_IDP", Kept::AuthViaIdp),
        ("user.session.end", Kept::SessionEnd),
        ("user.mfa.okta_verify.deny_push", Kept::DenyPush),
        ("application.policy.sign_on.deny_access", Kept::DenyAccess),
    ];
    TABLE.iter().find(|(t, _)| t.eq_ignore_ascii_case(event_type)).map(|(_, k)| *k)
}

/// Full parse of one Okta System Log LogEvent (as returned by /api/v1/logs, one element of the
/// JSON array page). Relevant => exactly one IdpEvent with provider Okta, native_id = `uuid`,
/// event_id = `uuid`, tenant = None (Okta events do not name their org). Irrelevant =>
/// Irrelevant { time_ms: published, scope: None }.
pub fn parse_record(raw: &[u8]) -> Result<Parsed<IdpEvent>, ParseError> {
    match raw.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(ParseError::WrongShape { expected: EXPECTED, why: "the record is not a JSON object".into() });
        }
        None => return Err(ParseError::WrongShape { expected: EXPECTED, why: "the record is empty".into() }),
    }
    let ev: LogEvent<'_> = serde_json::from_slice(raw)?;
    if ev.event_type.get().is_none()
        && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(raw)
        && ecs::looks_ecs(&doc)
    {
        return ecs::parse(&doc);
    }
    read(&ev, &NATIVE_FIELDS)
}

/// The names a record's shape gives the fields [`read`] requires, for its errors.
pub(crate) struct FieldNames {
    event_type: &'static str,
    uuid: &'static str,
    published: &'static str,
}

const NATIVE_FIELDS: FieldNames = FieldNames { event_type: "eventType", uuid: "uuid", published: "published" };

/// A LogEvent (read from the API's JSON, or rebuilt from an Elastic document) → the event.
pub(crate) fn read(ev: &LogEvent<'_>, f: &FieldNames) -> Result<Parsed<IdpEvent>, ParseError> {
    let Some(event_type) = ev.event_type.get() else {
        return Err(ParseError::WrongShape { expected: EXPECTED, why: format!("no `{}` field", f.event_type) });
    };
    let uuid = ev.uuid.get();
    let published = ev.published.get();
    if uuid.is_none() && published.is_none() {
        return Err(ParseError::WrongShape {
            expected: EXPECTED,
            why: format!("neither `{}` nor `{}` is present", f.uuid, f.published),
        });
    }
    let time_ms =
        published.map(|p| parse_time(p).map_err(|why| ParseError::invalid(f.published, p, why))).transpose()?;

    let Some(kind) = kept(event_type) else {
        return Ok(Parsed::Irrelevant { time_ms, scope: None });
    };
    let uuid = uuid.ok_or(ParseError::Missing(f.uuid))?;
    let time_ms = time_ms.ok_or(ParseError::Missing(f.published))?;

    let event = normalize(ev, kind, uuid, event_type, time_ms);
    Ok(Parsed::Relevant { native_id: uuid.to_owned(), events: vec![event] })
}

/// `Text` with Okta's placeholders (`""`, `"unknown"`, `"null"`) read as absent.
fn clean<'r>(t: &'r Text<'_>) -> Option<&'r str> {
    t.get().filter(|s| {
        let s = s.trim();
        !s.is_empty() && !s.eq_ignore_ascii_case("unknown") && !s.eq_ignore_ascii_case("null")
    })
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

fn is_type(e: &Entity<'_>, ty: &str) -> bool {
    e.kind.get().is_some_and(|k| k.eq_ignore_ascii_case(ty))
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

fn map_outcome(result: Option<&str>) -> Outcome {
    match result {
        Some(r) if r.eq_ignore_ascii_case("SUCCESS") || r.eq_ignore_ascii_case("ALLOW") => Outcome::Success,
        Some(r) if r.eq_ignore_ascii_case("FAILURE") || r.eq_ignore_ascii_case("DENY") => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

/// `outcome.reason`, prefixed by the raw `outcome.result` unless that result is plainly
/// SUCCESS / FAILURE and agrees with the final outcome.
fn outcome_reason(result: Option<&str>, reason: Option<&str>, outcome: Outcome) -> Option<String> {
    let plain = match result {
        None => true,
        Some(r) => {
            (r.eq_ignore_ascii_case("SUCCESS") && outcome == Outcome::Success)
                || (r.eq_ignore_ascii_case("FAILURE") && outcome == Outcome::Failure)
        }
    };
    match (result, reason, plain) {
        (_, reason, true) => owned(reason),
        (Some(r), Some(why), false) => Some(format!("{r}: {why}")),
        (Some(r), None, false) => Some(r.to_owned()),
        (None, _, false) => None, // unreachable: `plain` is true without a result
    }
}

fn normalize(ev: &LogEvent<'_>, kind: Kept, uuid: &str, event_type: &str, time_ms: i64) -> IdpEvent {
    let targets: Vec<&Entity<'_>> = ev.target.iter().flatten().flatten().collect();
    let target_of = |ty: &str| targets.iter().copied().find(|t| is_type(t, ty));

    // Outcome.
    let result = ev.outcome.as_ref().and_then(|o| o.result.get());
    let reason = ev.outcome.as_ref().and_then(|o| o.reason.get());
    let outcome = match kind {
        Kept::DenyPush | Kept::DenyAccess => Outcome::Failure,
        _ => map_outcome(result),
    };

    // User keys.
    let actor = ev.actor.as_ref();
    let user_entity = match actor {
        Some(a) if is_type(a, "User") || a.kind.get().is_none() => Some(a),
        _ => target_of("User"),
    };
    let login = user_entity.and_then(|u| clean(&u.alternate_id));
    let user = UserKeys {
        login: owned(login),
        email: owned(login.filter(|l| looks_like_email(l))),
        user_id: owned(user_entity.and_then(|u| clean(&u.id))),
        display_name: owned(user_entity.and_then(|u| clean(&u.display_name))),
        app_username: owned(target_of("AppUser").and_then(|t| clean(&t.alternate_id))),
    };

    // App.
    let app = target_of("AppInstance");
    let app_id = owned(app.and_then(|a| clean(&a.id)));
    let app_name = owned(app.and_then(|a| clean(&a.display_name).or_else(|| clean(&a.alternate_id))));

    // Network.
    let client = ev.client.as_ref();
    let hops: Vec<&raw::IpHop<'_>> =
        ev.request.as_ref().and_then(|r| r.ip_chain.as_ref()).into_iter().flatten().flatten().collect();
    let source_ip = client.and_then(|c| clean(&c.ip_address)).or_else(|| hops.iter().find_map(|h| clean(&h.ip)));
    let user_agent = client.and_then(|c| c.user_agent.as_ref()).and_then(|u| clean(&u.raw_user_agent));
    let country = client.and_then(|c| c.geographical_context.as_ref()).and_then(|g| clean(&g.country)).or_else(|| {
        let ip = source_ip?;
        hops.iter()
            .find(|h| clean(&h.ip) == Some(ip))
            .and_then(|h| h.geographical_context.as_ref())
            .and_then(|g| clean(&g.country))
    });
    let sec = ev.security_context.as_ref();
    let asn = sec.and_then(|s| s.as_number.0);
    let as_org = sec.and_then(|s| clean(&s.as_org));

    let auth = ev.authentication_context.as_ref();
    let session_id = auth.and_then(|a| clean(&a.external_session_id));
    let credential_type = auth.and_then(|a| clean(&a.credential_type));

    // MFA.
    let evidence = FactorEvidence {
        debug_factor: ev.debug_context.as_ref().and_then(|d| d.debug_data.get()).and_then(|d| clean(&d.factor)),
        enrollments: targets
            .iter()
            .filter(|t| is_type(t, "AuthenticatorEnrollment"))
            .map(|t| {
                let method = t.detail_entry.get().and_then(|d| clean(&d.method_type_used));
                (method, clean(&t.display_name))
            })
            .filter(|(m, d)| m.is_some() || d.is_some())
            .collect(),
        credential_type,
    };
    let name_only = || evidence.name().map(|n| vec![n.to_owned()]).unwrap_or_default();
    let (kind, mfa, factors) = match kind {
        Kept::SessionStart => (
            IdpEventKind::SessionStart,
            MfaClaim::Silent,
            credential_type.map(|c| vec![c.to_owned()]).unwrap_or_default(),
        ),
        Kept::Sso => (IdpEventKind::AppSso, MfaClaim::Silent, Vec::new()),
        Kept::DenyAccess => (IdpEventKind::AppSso, MfaClaim::Silent, Vec::new()),
        Kept::PolicyEvaluate => (IdpEventKind::PolicyEvaluated, MfaClaim::Silent, Vec::new()),
        Kept::SessionEnd => (IdpEventKind::SessionEnd, MfaClaim::Silent, Vec::new()),
        Kept::AuthViaIdp => {
            let claim = if outcome == Outcome::Success { MfaClaim::Upstream } else { MfaClaim::Silent };
            (IdpEventKind::UpstreamAuth, claim, Vec::new())
        }
        Kept::DenyPush => {
            let factors = evidence.name().unwrap_or("OKTA_VERIFY_PUSH").to_owned();
            (IdpEventKind::FactorFailed, MfaClaim::Failed, vec![factors])
        }
        Kept::AuthViaMfa | Kept::Verify => match outcome {
            Outcome::Success => {
                let (claim, factors) = evidence.success_claim();
                (IdpEventKind::FactorVerified, claim, factors)
            }
            Outcome::Failure => (IdpEventKind::FactorFailed, MfaClaim::Failed, name_only()),
            Outcome::Unknown => (IdpEventKind::FactorFailed, MfaClaim::Silent, name_only()),
        },
    };

    IdpEvent {
        provider: Idp::Okta,
        tenant: None,
        event_id: uuid.to_owned(),
        time_ms,
        kind,
        native_type: event_type.to_owned(),
        outcome,
        outcome_reason: outcome_reason(result, reason, outcome),
        user,
        app_id,
        app_name,
        session_id: owned(session_id),
        source_ip: owned(source_ip),
        user_agent: owned(user_agent),
        asn,
        as_org: owned(as_org),
        country: owned(country),
        mfa,
        factors,
        auth_requirement: None,
    }
}
