//! Which source a record is from, from its top-level keys.

use crate::scan::{self, Flow};
use trailproof_model::Source;

/// What the keys seen so far say about the record's source.
#[derive(Default)]
pub(crate) struct Hints<'a> {
    /// A key only one source's native records have.
    pub decided: Option<Source>,
    /// An Elastic ECS namespace (`okta`, `google_workspace`, `azure.signinlogs`, `aws.cloudtrail`).
    pub ecs: Option<Source>,
    /// Azure Monitor `category`, Log Analytics `Category` / `Type`.
    pub category: Option<&'a [u8]>,
    /// Log Analytics columns of a sign-in row.
    pub time_generated: bool,
    pub upn_column: bool,
    /// Google Reports activity: `id` (an object), `events`, `actor`.
    pub google_id: bool,
    pub google_events: bool,
    pub actor: bool,
}

/// Keys that only one source's own records carry at the top (never an envelope's, never an
/// Elastic document's), so the first of them decides. CloudTrail: the record fields of the
/// CloudTrail event reference (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)
/// and LookupEvents' `Events[]` members. Okta: the LogEvent object of the System Log API
/// (https://developer.okta.com/docs/reference/api/system-log/#logevent-object). Entra: the Graph
/// `signIn` resource's `createdDateTime`.
fn decisive(key: &[u8]) -> Option<Source> {
    Some(match key {
        b"eventVersion"
        | b"eventID"
        | b"eventSource"
        | b"eventName"
        | b"userIdentity"
        | b"awsRegion"
        | b"recipientAccountId"
        | b"CloudTrailEvent"
        | b"EventId"
        | b"EventName"
        | b"EventSource" => Source::Cloudtrail,
        b"uuid"
        | b"published"
        | b"legacyEventType"
        | b"displayMessage"
        | b"authenticationContext"
        | b"securityContext"
        | b"debugContext" => Source::Okta,
        b"createdDateTime" => Source::Entra,
        _ => return None,
    })
}

/// A sign-in category: Azure Monitor `category` (`SignInLogs`, `NonInteractiveUserSignInLogs`,
/// `ServicePrincipalSignInLogs`, `ManagedIdentitySignInLogs`, `ADFSSignInLogs`) or Log Analytics
/// `Type` (`SigninLogs`, `AADNonInteractiveUserSignInLogs`, ..., `ADFSSignInLogs`).
/// <https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-azure-monitor-sign-ins-log-schema>
fn category_source(v: &[u8]) -> Option<Source> {
    let lower = v.to_ascii_lowercase();
    memchr::memmem::find(&lower, b"signinlogs")?;
    Some(if lower.starts_with(b"adfs") { Source::Adfs } else { Source::Entra })
}

/// `azure` (ECS): `signinlogs` inside makes it Entra, or AD FS when its category says so.
fn azure_ecs(v: &[u8]) -> Option<Source> {
    let signin = scan::get(v, b"signinlogs")?;
    Some(match scan::get(signin, b"category").and_then(scan::raw_str).and_then(category_source) {
        Some(Source::Adfs) => Source::Adfs,
        _ => Source::Entra,
    })
}

impl<'a> Hints<'a> {
    /// Takes one top-level key. `Flow::Stop` once the source is decided by a decisive key.
    pub fn key(&mut self, k: &'a [u8], v: &'a [u8]) -> Flow {
        if let Some(s) = decisive(k) {
            self.decided = Some(s);
            return Flow::Stop;
        }
        match k {
            b"kind" if scan::raw_str(v) == Some(b"admin#reports#activity") => {
                // <https://developers.google.com/workspace/admin/reports/reference/rest/v1/activities>
                self.decided = Some(Source::Google);
                return Flow::Stop;
            }
            b"id" if scan::is_object(v) => self.google_id = true,
            b"events" if scan::is_array(v) => self.google_events = true,
            b"actor" => self.actor = true,
            b"category" | b"Category" | b"Type" => {
                if let Some(c) = scan::raw_str(v).filter(|c| category_source(c).is_some()) {
                    self.category = Some(c);
                }
            }
            b"TimeGenerated" => self.time_generated = true,
            b"UserPrincipalName" => self.upn_column = true,
            // Elastic ECS documents: the integration's own namespace.
            b"okta" => self.ecs = Some(Source::Okta),
            b"google_workspace" => self.ecs = Some(Source::Google),
            b"azure" => self.ecs = azure_ecs(v).or(self.ecs),
            b"aws" if scan::get(v, b"cloudtrail").is_some() => self.ecs = Some(Source::Cloudtrail),
            _ => {
                if let Some(s) = dotted_ecs(k, v) {
                    self.ecs = Some(s);
                }
            }
        }
        Flow::Continue
    }

    /// The source the keys point to, if any.
    pub fn source(&self) -> Option<Source> {
        if let Some(s) = self.decided {
            return Some(s);
        }
        if let Some(s) = self.ecs {
            return Some(s);
        }
        if let Some(s) = self.category.and_then(category_source) {
            return Some(s);
        }
        if self.time_generated && self.upn_column {
            return Some(Source::Entra);
        }
        if self.google_id && self.google_events && self.actor {
            return Some(Source::Google);
        }
        None
    }
}

/// Dotted ECS keys (`okta.uuid`, `azure.signinlogs.category`, ...), as some exports flatten them.
fn dotted_ecs(k: &[u8], v: &[u8]) -> Option<Source> {
    if k.starts_with(b"okta.") {
        Some(Source::Okta)
    } else if k.starts_with(b"google_workspace.") {
        Some(Source::Google)
    } else if k.starts_with(b"aws.cloudtrail.") {
        Some(Source::Cloudtrail)
    } else if k == b"azure.signinlogs.category" {
        Some(scan::raw_str(v).and_then(category_source).unwrap_or(Source::Entra))
    } else if k.starts_with(b"azure.signinlogs.") {
        Some(Source::Entra)
    } else {
        None
    }
}

/// Which source's record `bytes` is, from its top-level keys (see the crate docs), or `None`
/// when they do not say. An envelope is not a record: unwrap it first.
pub fn sniff(bytes: &[u8]) -> Option<Source> {
    let mut hints = Hints::default();
    scan::each_key(bytes, |k, v| hints.key(k, v));
    hints.source()
}
