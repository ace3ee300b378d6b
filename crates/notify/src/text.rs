//! Ticket and message text. Every string from logs is attacker-controlled: it is made inert
//! everywhere (`trailproof_model::text::inert`: U+FFFD for each control character and
//! bidirectional override), and each target's markup is escaped (Jira wiki, Slack mrkdwn).

use trailproof_model::verdict::{Verdict, VerdictRecord};

/// [`trailproof_model::inert`], owned.
pub(crate) fn clean(s: &str) -> String {
    trailproof_model::inert(s).into_owned()
}

/// A value for an HTTP header: visible ASCII and spaces as they are, every other byte (control
/// characters, non-ASCII) and `%` percent-encoded. A header cannot carry a control character at
/// all, so a session whose event id holds one would otherwise never be delivered.
pub(crate) fn header_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b' '..=b'~').contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Jira wiki markup: a backslash before every character that starts markup.
pub(crate) fn jira(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in clean(s).chars() {
        if "\\{}[]|*_-+^~?#!:@=<>()`".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Slack mrkdwn: `&`, `<`, `>` as entities (what Slack documents), and the formatting characters
/// neutralised with a zero-width joiner so they cannot start bold, code or links.
pub(crate) fn slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push('\u{200D}');
            }
            _ => out.push(c),
        }
    }
    out
}

/// ServiceNow journal text: its `[code]…[/code]` markers would render what they enclose as HTML,
/// so any such marker from log data loses its brackets.
pub(crate) fn servicenow(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let lower = s.to_ascii_lowercase();
    let mut i = 0;
    while i < s.len() {
        let rest = &lower[i..];
        if rest.starts_with("[code]") || rest.starts_with("[/code]") {
            let n = if rest.starts_with("[code]") { 6 } else { 7 };
            out.push('(');
            out.push_str(&s[i + 1..i + n - 1]);
            out.push(')');
            i += n;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

pub(crate) fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Enforced => "MFA enforced",
        Verdict::NotEnforced => "MFA NOT enforced",
        Verdict::NoIdpLogin => "no IdP login behind the console session",
        Verdict::Unknown => "MFA unknown",
    }
}

pub(crate) fn who(r: &VerdictRecord) -> String {
    clean(r.session_name.as_deref().or(r.arn.as_deref()).unwrap_or("unknown principal"))
}

/// One line: what a ticket's title says.
pub(crate) fn title(r: &VerdictRecord) -> String {
    let t = format!(
        "[trailproof] {}: {} in AWS account {}",
        verdict_words(r.verdict),
        who(r),
        clean(r.account_id.as_deref().unwrap_or("?"))
    );
    t.chars().take(240).collect()
}

/// The ticket body as (label, value) pairs; each sink formats and escapes them.
pub(crate) fn fields(r: &VerdictRecord) -> Vec<(&'static str, String)> {
    let sev =
        serde_json::to_value(r.risk.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let signals: Vec<&str> = r.risk.signals.iter().map(|s| s.as_str()).collect();
    let evidence: Vec<String> =
        r.evidence.iter().map(|e| format!("{} {} {}", e.source.as_str(), e.role, e.id)).collect();
    let mut out = vec![
        (
            "Verdict",
            format!("{}{}", r.verdict.as_str(), r.reason.map(|x| format!(" ({})", x.as_str())).unwrap_or_default()),
        ),
        ("Session", clean(r.arn.as_deref().unwrap_or("-"))),
        ("Account", clean(r.account_id.as_deref().unwrap_or("-"))),
        ("Console sign-in", format!("{} from {}", clean(&r.time), clean(r.source_ip.as_deref().unwrap_or("-")))),
        ("User agent", clean(r.user_agent.as_deref().unwrap_or("-"))),
        ("Path", r.path.as_str().to_string()),
        (
            "Risk",
            format!(
                "{sev} (score {}){}",
                r.risk.score,
                if signals.is_empty() { String::new() } else { format!(": {}", signals.join(", ")) }
            ),
        ),
        ("Explanation", clean(&r.explanation)),
        ("Evidence", clean(&evidence.join("; "))),
        ("Reproduce", format!("trailproof lookup {}", clean(&r.console_login_event_id))),
        ("Verdict version", r.version.to_string()),
    ];
    if let Some(i) = &r.identity {
        let idp = serde_json::to_value(i.idp).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        out.insert(2, ("Identity", format!("{idp} user {}", clean(&i.user))));
    }
    out
}

pub(crate) fn plain(r: &VerdictRecord, lead: &str) -> String {
    let mut s = format!("{lead}\n\n");
    for (k, v) in fields(r) {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_logs_is_escaped_for_each_target() {
        assert_eq!(jira("[x|http://evil]{code}"), "\\[x\\|http\\://evil\\]\\{code\\}");
        assert_eq!(
            slack("<!channel> *bold* <http://evil|x>"),
            "&lt;!channel&gt; *\u{200D}bold*\u{200D} &lt;http://evil|x&gt;"
        );
        assert_eq!(clean("a\x1b[2Jb\r\nc"), "a\u{FFFD}[2Jb\u{FFFD}\u{FFFD}c");
        assert_eq!(servicenow("x[CODE]<img src=x>[/code]é"), "x(CODE)<img src=x>(/code)é");
        assert_eq!(header_value("1111:ev\u{1b}[2J é%/v1/create"), "1111:ev%1B[2J %C3%A9%25/v1/create");
        assert_eq!(header_value("111122223333:abc-1/v2/update"), "111122223333:abc-1/v2/update");
    }
}
