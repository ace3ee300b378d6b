//! What a refusal means, per service: a setup error (the same for every ticket: stop the sink,
//! keep its queue, say what to fix), a content error (this ticket only), or a ticket that is gone
//! (an update of a deleted or hidden ticket). The vendor pages each rule comes from are cited next
//! to it; docs/ticket-sinks.md gives the whole table.

use crate::sink::Kind;
use crate::text;
use serde_json::Value;

/// What went wrong with one session's ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Authentication, permission, URL, project, issue type, channel, routing key: every ticket
    /// would fail the same way. The sink stops with its queue kept; the text says what to fix.
    Setup(String),
    /// The service refused this request for what it carries. `signature` is the refusal without
    /// what varies between tickets: two tickets refused with the same signature are a setup error.
    Content { message: String, signature: String },
    /// The ticket to update is gone at the service (deleted, or no longer visible to the account).
    Gone(String),
    /// Retries used up, a wait longer than allowed, or a create whose outcome stays unknown: the
    /// sink stops for this run with its queue kept.
    Transient(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Setup(m) | Failure::Gone(m) | Failure::Transient(m) => m,
            Failure::Content { message, .. } => message,
        }
    }
}

/// What kind of request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Looking a ticket up (Jira search, ServiceNow query).
    Lookup,
    /// Creating a ticket, or sending a message / event (PagerDuty, Slack, webhook).
    Create,
    /// Commenting on, updating or resolving a ticket the sink holds (Jira, ServiceNow).
    Update,
    /// Jira: listing or doing a workflow transition on a held issue.
    Transition,
}

/// One line from a service's error body.
pub fn summary(kind: Kind, body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let s = match (kind, &v) {
        // Jira: {"errorMessages": [...], "errors": {"field": "message"}} (ErrorCollection).
        (Kind::Jira, Some(v)) if v.get("errorMessages").is_some() || v.get("errors").is_some() => {
            let mut parts: Vec<String> = v["errorMessages"]
                .as_array()
                .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if let Some(o) = v["errors"].as_object() {
                let mut fields: Vec<String> =
                    o.iter().map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or(""))).collect();
                fields.sort();
                parts.extend(fields);
            }
            parts.join("; ")
        }
        // ServiceNow: {"error": {"message", "detail"}, "status": "failure"}.
        (Kind::ServiceNow, Some(v)) if v["error"].is_object() => {
            let m = v["error"]["message"].as_str().unwrap_or("");
            match v["error"]["detail"].as_str().filter(|d| !d.is_empty()) {
                Some(d) => format!("{m} ({d})"),
                None => m.to_string(),
            }
        }
        // PagerDuty: {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}.
        (Kind::PagerDuty, Some(v)) if v.get("message").is_some() || v.get("errors").is_some() => {
            let errs: Vec<&str> =
                v["errors"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let m = v["message"].as_str().unwrap_or("");
            if errs.is_empty() { m.to_string() } else { format!("{m}: {}", errs.join("; ")) }
        }
        _ => body.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    // Redacted before it is cut: a proxy that echoes the request echoes its credentials.
    let s = text::clean(&trailproof_http::redact(s.trim()));
    let s = if s.is_empty() { "(empty body)".to_string() } else { s };
    if s.chars().count() > 300 { s.chars().take(300).collect::<String>() + "…" } else { s }
}

/// The refusal without what varies between tickets (numbers, quoted values).
fn signature(status: u16, summary: &str) -> String {
    let mut out = format!("{status} ");
    let mut quoted = false;
    for c in summary.chars() {
        match c {
            '"' | '\'' => {
                quoted = !quoted;
                out.push('"');
            }
            _ if quoted => {}
            c if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// A service name for messages.
pub fn service(kind: Kind) -> &'static str {
    match kind {
        Kind::Jira => "Jira",
        Kind::ServiceNow => "ServiceNow",
        Kind::PagerDuty => "PagerDuty",
        Kind::Slack => "Slack",
        Kind::Webhook => "the webhook receiver",
    }
}

/// Classifies a refusal (a status that is not retried) of `op` by `kind`'s service.
pub fn refusal(kind: Kind, op: Op, what: &str, status: u16, body: &str) -> Failure {
    let said = summary(kind, body);
    let answer = format!("{what}: HTTP {status}: {said}");
    let setup = |fix: &str| {
        Failure::Setup(format!(
            "setup problem, the same for every ticket ({answer}): {fix}; nothing was dropped, the queue waits for the next run"
        ))
    };
    let lower = said.to_ascii_lowercase();
    let code = body.trim();
    // A held ticket's update answers 404: Jira's "Returned if the issue is not found or the user
    // does not have permission to view it" (Add comment, Transition issue); ServiceNow Table API
    // PATCH "No Record found (Record doesn't exist or ACL restricts the record retrieval)".
    if status == 404 && matches!(op, Op::Update | Op::Transition) && matches!(kind, Kind::Jira | Kind::ServiceNow) {
        return Failure::Gone(format!("{answer}: the ticket is gone (deleted, or not visible to the account)"));
    }
    // Looking up is the same request for every ticket: any refusal of it is a setup error.
    if op == Op::Lookup {
        return setup(match kind {
            Kind::Jira => {
                "the account cannot search the project: check `url`, `user`, the API token and the Browse projects permission"
            }
            _ => {
                "the account cannot read the incident table: check `url`, `user`, the password and its roles (incident read)"
            }
        });
    }
    match status {
        300..=399 => setup("the service redirected: check `url` (an API that redirects is the wrong address)"),
        // Jira create issue: 401 "authentication credentials are incorrect or missing"; ServiceNow:
        // "The user is not authorized to use the API" (REST API HTTP response codes).
        401 => setup(match kind {
            Kind::Jira => {
                "check `user` (the account e-mail on Jira Cloud; empty for a Data Center personal access token) and the API token"
            }
            Kind::ServiceNow => "check `user` and its password",
            Kind::Webhook => {
                "the receiver refused the signature or the credentials: check that both ends use the same key"
            }
            _ => "check the secret",
        }),
        // Jira: 403 "the user does not have the necessary permission"; ServiceNow: "ACL failures,
        // or business rule or data policy constraints"; Slack incoming webhooks: 403
        // `action_prohibited` ("the team associated with your request has some kind of
        // restriction on the webhook posting in this context"), `invalid_token`.
        403 => setup(match kind {
            Kind::Jira => {
                "the account lacks a permission in the project (Browse projects, Create issues, Add comments, Transition issues)"
            }
            Kind::ServiceNow => {
                "the user lacks a role, or an ACL or business rule forbids the change (the itil role covers incidents)"
            }
            Kind::Slack if code.contains("invalid_token") => {
                "the webhook URL is no longer valid: create a new incoming webhook and put its URL in the secret"
            }
            Kind::Slack => {
                "the workspace restricts this webhook (action_prohibited): ask a Slack admin, or use another channel"
            }
            Kind::PagerDuty => "check the routing key (the Events API v2 integration key of the service)",
            Kind::Webhook => "the receiver refused the delivery: check its key and access rules",
        }),
        // Slack incoming webhooks: 404 `channel_not_found` ("the channel associated with your
        // request does not exist"), `no_service` / `no_team` (the webhook was removed).
        404 => setup(match kind {
            Kind::Jira => "check `url` (the Jira site, without /rest/...)",
            Kind::ServiceNow => "check `url` (the instance, e.g. https://example.service-now.com)",
            Kind::PagerDuty => "check `url` (default https://events.pagerduty.com)",
            Kind::Slack => {
                "the webhook was removed or its channel deleted: create a new incoming webhook and put its URL in the secret"
            }
            Kind::Webhook => "check `url`",
        }),
        405 => setup("the service does not take this request at this address: check `url`"),
        // Slack: 410 `channel_is_archived` ("the channel has been archived and doesn't accept
        // further messages"). Standard Webhooks: "410 Gone: ... the server is no longer
        // interested in receiving webhooks from this source. Sender should disable the webhook
        // endpoint" (Delivery success and failure).
        410 => setup(match kind {
            Kind::Slack => "the webhook's channel is archived: unarchive it, or create a webhook for another channel",
            Kind::Webhook => {
                "the receiver answered 410 Gone (it wants no more deliveries): remove the sink or fix the receiver"
            }
            _ => "check `url`",
        }),
        // Jira create issue: 422 "Returned if a configuration problem prevents the creation of the
        // issue".
        422 if kind == Kind::Jira => setup(
            "Jira reports a configuration problem that prevents creating issues in the project (issue type, workflow, required fields): check `project` and `issue_type`",
        ),
        // Jira transition issue: 400 when "the user does not have permission to transition the
        // issue" or "a field that isn't included on the transition screen is defined" — the
        // same for every issue of the workflow.
        400 if kind == Kind::Jira && op == Op::Transition => setup(
            "the `close_transition` cannot be done by this account or needs fields on its screen: give the account the Transition issues permission, or name another transition",
        ),
        400 if kind == Kind::Jira && jira_setup_400(body) => setup(
            "Jira answers this when the account lacks the Create issues permission, when the authentication scheme is wrong (Jira Cloud: `user` = e-mail and an API token; Data Center: empty `user` and a personal access token), or when `project` / `issue_type` do not exist or lack the fields on their create screen (see JRASERVER-44003)",
        ),
        // PagerDuty Events API v2: 400 {"status": "invalid event", "errors": ["Length of
        // 'routing_key' is incorrect (should be 32 characters)"]}.
        400 if kind == Kind::PagerDuty && (lower.contains("routing_key") || lower.contains("routing key")) => {
            setup("check the routing key (the 32-character Events API v2 integration key)")
        }
        // Slack incoming webhooks: 400 `user_not_found` ("the user used in your request does not
        // actually exist"): the webhook's own configuration.
        400 if kind == Kind::Slack && code.contains("user_not_found") => {
            setup("the webhook's user does not exist any more: create a new incoming webhook")
        }
        _ => Failure::Content {
            message: format!("{answer} ({} refused this ticket)", service(kind)),
            signature: signature(status, &said),
        },
    }
}

/// Jira 400s that no ticket's content causes: a field trailproof always sends is refused as "not
/// on the appropriate screen, or unknown" (JRASERVER-44003: what Jira answers to a user without
/// the Create issues permission, or to a wrong Authorization scheme), or the project / issue type
/// is refused, or the message is about permission.
fn jira_setup_400(body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else { return false };
    let errors = v["errors"].as_object();
    let screen = errors.is_some_and(|o| {
        o.iter().any(|(k, m)| {
            ["summary", "description", "labels", "issuetype", "project"].contains(&k.as_str())
                && m.as_str()
                    .is_some_and(|m| m.contains("cannot be set") || m.contains("not on the appropriate screen"))
        })
    });
    let config_field = errors.is_some_and(|o| o.keys().any(|k| k == "project" || k == "issuetype" || k == "reporter"));
    let permission = v["errorMessages"].as_array().is_some_and(|a| {
        a.iter().filter_map(Value::as_str).any(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("permission") || m.contains("anonymous") || m.contains("not authorized")
        })
    });
    screen || config_field || permission
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_refusals() {
        // JRASERVER-44003: the body Jira answers to a user without Create issues, or to a Bearer
        // header where Basic is expected.
        let b = r#"{"errorMessages":[],"errors":{"summary":"Field 'summary' cannot be set. It is not on the appropriate screen, or unknown.","description":"Field 'description' cannot be set. It is not on the appropriate screen, or unknown."}}"#;
        assert!(matches!(refusal(Kind::Jira, Op::Create, "create", 400, b), Failure::Setup(_)));
        let b = r#"{"errorMessages":[],"errors":{"issuetype":"Specify a valid issue type"}}"#;
        assert!(matches!(refusal(Kind::Jira, Op::Create, "create", 400, b), Failure::Setup(_)));
        assert!(matches!(refusal(Kind::Jira, Op::Create, "create", 422, "{}"), Failure::Setup(_)));
        let b = r#"{"errorMessages":[],"errors":{"description":"The entered text is too long. It exceeds the allowed limit of 32,767 characters."}}"#;
        let Failure::Content { signature, .. } = refusal(Kind::Jira, Op::Create, "create", 400, b) else { panic!() };
        assert_eq!(
            signature,
            "400 description: the entered text is too long. it exceeds the allowed limit of #,# characters."
        );
        let b = r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#;
        assert!(matches!(refusal(Kind::Jira, Op::Update, "comment", 404, b), Failure::Gone(_)));
        assert!(matches!(refusal(Kind::Jira, Op::Create, "create", 404, b), Failure::Setup(_)));
        assert!(matches!(refusal(Kind::Jira, Op::Transition, "transition", 400, "{}"), Failure::Setup(_)));
    }

    #[test]
    fn other_services() {
        let gone = r#"{"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"}"#;
        let f = refusal(Kind::ServiceNow, Op::Update, "update incident", 404, gone);
        assert!(matches!(&f, Failure::Gone(m) if m.contains("ACL restricts")), "{f:?}");
        let pd = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
        assert!(matches!(refusal(Kind::PagerDuty, Op::Create, "enqueue", 400, pd), Failure::Setup(_)));
        for (status, body) in [
            (400, "user_not_found"),
            (403, "action_prohibited"),
            (404, "channel_not_found"),
            (404, "no_service"),
            (410, "channel_is_archived"),
        ] {
            assert!(
                matches!(refusal(Kind::Slack, Op::Create, "post", status, body), Failure::Setup(_)),
                "{status} {body}"
            );
        }
        assert!(matches!(refusal(Kind::Slack, Op::Create, "post", 400, "invalid_payload"), Failure::Content { .. }));
        assert!(matches!(refusal(Kind::Webhook, Op::Create, "post", 410, ""), Failure::Setup(_)));
        assert!(matches!(refusal(Kind::ServiceNow, Op::Lookup, "query", 400, ""), Failure::Setup(_)));
    }

    #[test]
    fn signatures_ignore_what_varies_between_tickets() {
        assert_eq!(
            signature(400, "Data Policy Exception: 'x@example.com' is 1234 long"),
            "400 data policy exception: \"\" is # long"
        );
        assert_eq!(
            signature(400, "Data Policy Exception: 'y@example.com' is 99 long"),
            signature(400, "Data Policy Exception: 'x@example.com' is 1234 long")
        );
    }
}
