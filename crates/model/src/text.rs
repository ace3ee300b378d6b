//! Inert text: the one function through which every output passes text it did not write itself.
//!
//! Record fields (session names, user agents, user names, event ids, file names), vendors' error
//! bodies and anything else trailproof did not compose is attacker-controlled. Written as it is to
//! a terminal, an ESC moves the cursor or recolours the screen, a BEL rings, a CR or LF forges a
//! line; copied into JSON it survives as `\u001b` and comes back to life the moment someone runs
//! `jq -r`. So every output crate (report, notify, the CLI, the HTTP layer's error messages) makes
//! such text inert here before it formats it. It lives in `trailproof-model` because that is the
//! one crate every output crate already depends on, and it does no I/O.
//!
//! # Policy (one for every output)
//!
//! Each of these characters is replaced by U+FFFD REPLACEMENT CHARACTER, one for one:
//!
//! - the control characters (Unicode general category Cc): C0 U+0000–U+001F (ESC, BEL, CR, LF,
//!   TAB…), DEL U+007F and C1 U+0080–U+009F (CSI U+009B acts as ESC `[` on many terminals);
//! - the bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, which
//!   make a terminal or a browser show text in another order than it is stored ("Trojan Source").
//!
//! The replacement is visible, so an analyst sees that something was there, and keeps every
//! format valid: a JSON string stays a JSON string (only its content changes), and each format's
//! own escaping (CSV formulas, Markdown, HTML, Jira and Slack markup) applies afterwards, as
//! before. Nothing else changes: other Unicode text (names in any script, emoji) is kept.
//! [`inert_lines`] keeps LF, for messages of several lines that trailproof composed itself around
//! already inert parts.

use std::borrow::Cow;

/// The replacement for every neutralised character.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether `c` is neutralised by [`inert`] (see the module docs).
pub fn is_neutralised(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn replace(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_neutralised(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if is_neutralised(c) && !keep(c) { REPLACEMENT } else { c }).collect())
}

/// `s` with every control character and bidirectional override replaced by U+FFFD (see the
/// module docs). Borrowed when nothing needed replacing.
pub fn inert(s: &str) -> Cow<'_, str> {
    replace(s, |_| false)
}

/// [`inert`], but line feeds are kept: for a message of several lines composed by trailproof
/// (each line's parts that came from elsewhere are already inert). A CR is still replaced, so
/// no line can be overwritten.
pub fn inert_lines(s: &str) -> Cow<'_, str> {
    replace(s, |c| c == '\n')
}

/// Makes every string of a JSON value inert, object keys included (see [`inert`]).
pub fn inert_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = inert(s) {
                *s = clean;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(inert_json),
        Value::Object(o) => {
            if o.keys().any(|k| matches!(inert(k), Cow::Owned(_))) {
                let old = std::mem::take(o);
                for (k, mut val) in old {
                    inert_json(&mut val);
                    o.insert(inert(&k).into_owned(), val);
                }
            } else {
                o.values_mut().for_each(inert_json);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `t` as a JSON value whose strings are all inert: what every JSON output writes.
pub fn inert_value<T: serde::Serialize + ?Sized>(t: &T) -> Result<serde_json::Value, serde_json::Error> {
    let mut v = serde_json::to_value(t)?;
    inert_json(&mut v);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_become_replacement_characters() {
        assert_eq!(inert("ok\u{1b}[31mred\u{7}"), "ok\u{FFFD}[31mred\u{FFFD}");
        assert_eq!(inert("a\r\nb\tc\u{7f}d\u{9b}e\u{0}"), "a\u{FFFD}\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}");
        assert_eq!(inert("admin\u{202E}gpj.exe\u{2066}x\u{2069}"), "admin\u{FFFD}gpj.exe\u{FFFD}x\u{FFFD}");
        // Other text, in any script, is kept and borrowed.
        assert!(matches!(inert("Zoë 山田 🙂 <b>&amp;"), Cow::Borrowed("Zoë 山田 🙂 <b>&amp;")));
        assert_eq!(inert_lines("line 1\nline\r2\u{1b}"), "line 1\nline\u{FFFD}2\u{FFFD}");
    }

    #[test]
    fn json_values_lose_their_controls_and_stay_json() {
        let mut v = serde_json::json!({"session_name": "x\u{1b}]0;pwned\u{7}", "k\u{1b}": ["\u{9b}1m", 3, null]});
        inert_json(&mut v);
        let text = serde_json::to_string(&v).unwrap();
        assert!(!text.contains("\\u001b") && !text.contains("\\u0007") && !text.contains('\u{9b}'), "{text}");
        assert_eq!(v["session_name"], "x\u{FFFD}]0;pwned\u{FFFD}");
        assert_eq!(v["k\u{FFFD}"][0], "\u{FFFD}1m");
        assert_eq!(v["k\u{FFFD}"][1], 3);
    }
}
