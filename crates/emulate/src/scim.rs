//! The SCIM filter subset of Okta's `/api/v1/logs?filter=`: `attr op "value"`, `attr pr`,
//! `and`, `or`, `not (...)`, parentheses. Operators: eq ne co sw ew gt ge lt le pr.
//! Attribute paths are dotted (`actor.id`); an array on the way (`target.id`) matches when any
//! element matches. String comparison is case-sensitive.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Cmp { path: String, op: Op, value: Value },
    Present(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b'"' => {
                // A JSON string literal, escapes included.
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(format!("unterminated string starting at {start}")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let lit = s.get(start..i).ok_or("bad string literal")?;
                let v: String = serde_json::from_str(lit).map_err(|e| format!("bad string literal {lit}: {e}"))?;
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while let Some(&c) = b.get(i) {
                    if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'"') {
                        break;
                    }
                    i += 1;
                }
                out.push(Tok::Word(s.get(start..i).ok_or("bad token")?.to_string()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Tok::Open) => {
                let f = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(f),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(Tok::Word(path)) => {
                if !path.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                    return Err(format!("invalid attribute {path:?}"));
                }
                let op = match self.next() {
                    Some(Tok::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(format!("expected an operator after {path:?}")),
                };
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(path)),
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "co" => Op::Co,
                    "sw" => Op::Sw,
                    "ew" => Op::Ew,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(format!("unsupported operator {other:?}")),
                };
                let value = match self.next() {
                    Some(Tok::Str(s)) => Value::String(s),
                    Some(Tok::Word(w)) => match w.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        n => serde_json::from_str::<serde_json::Number>(n)
                            .map(Value::Number)
                            .map_err(|_| format!("expected a value after {path} {op:?}, got {n:?}"))?,
                    },
                    _ => return Err(format!("expected a value after {path} {op:?}")),
                };
                Ok(Filter::Cmp { path, op, value })
            }
            _ => Err("expected an attribute, 'not' or '('".into()),
        }
    }
}

pub(crate) fn parse(s: &str) -> Result<Filter, String> {
    let mut p = Parser { toks: lex(s)?, pos: 0 };
    let f = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected input after the expression (token {})", p.pos + 1));
    }
    Ok(f)
}

impl Filter {
    /// True when the only attribute used is `eventType` (no need to parse the record).
    pub(crate) fn only_event_type(&self) -> bool {
        match self {
            Filter::Or(a, b) | Filter::And(a, b) => a.only_event_type() && b.only_event_type(),
            Filter::Not(a) => a.only_event_type(),
            Filter::Cmp { path, .. } | Filter::Present(path) => path == "eventType",
        }
    }

    /// Evaluates against a record; `lookup(path)` gives every value at the dotted path.
    pub(crate) fn eval(&self, lookup: &dyn Fn(&str) -> Vec<Value>) -> bool {
        match self {
            Filter::Or(a, b) => a.eval(lookup) || b.eval(lookup),
            Filter::And(a, b) => a.eval(lookup) && b.eval(lookup),
            Filter::Not(a) => !a.eval(lookup),
            Filter::Present(path) => lookup(path).iter().any(|v| !v.is_null() && v.as_str() != Some("")),
            Filter::Cmp { path, op, value } => {
                let vals = lookup(path);
                if *op == Op::Ne {
                    return !vals.iter().any(|v| cmp(v, Op::Eq, value));
                }
                if vals.is_empty() {
                    return *op == Op::Eq && value.is_null();
                }
                vals.iter().any(|v| cmp(v, *op, value))
            }
        }
    }
}

fn cmp(v: &Value, op: Op, want: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, want) {
        (Value::String(a), Value::String(b)) => {
            match op {
                Op::Co => return a.contains(b.as_str()),
                Op::Sw => return a.starts_with(b.as_str()),
                Op::Ew => return a.ends_with(b.as_str()),
                _ => {}
            }
            Some(a.as_str().cmp(b.as_str()))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
        // Numbers and booleans sent as strings compare by their text.
        (Value::Number(a), Value::String(b)) => Some(a.to_string().as_str().cmp(b.as_str())),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::String(b)) => Some(a.to_string().as_str().cmp(b.as_str())),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    let Some(ord) = ord else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

/// Every value at a dotted path; arrays on the way fan out.
pub(crate) fn values_at(root: &Value, path: &str) -> Vec<Value> {
    let mut cur: Vec<&Value> = vec![root];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for v in cur {
            match v {
                Value::Object(m) => {
                    if let Some(x) = m.get(seg) {
                        next.push(x);
                    }
                }
                Value::Array(items) => {
                    for it in items {
                        if let Some(x) = it.get(seg) {
                            next.push(x);
                        }
                    }
                }
                _ => {}
            }
        }
        cur = next;
    }
    let mut out = Vec::new();
    for v in cur {
        match v {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(f: &str, rec: &Value) -> bool {
        let f = parse(f).unwrap();
        f.eval(&|p| values_at(rec, p))
    }

    #[test]
    fn event_type_or_and_sw() {
        let r = json!({"eventType":"user.authentication.sso","target":[{"id":"0oa1"},{"id":"0oa2"}],
                       "outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"x":"a\"b"}}});
        assert!(ev(r#"eventType eq "user.session.start" or eventType eq "user.authentication.sso""#, &r));
        assert!(!ev(r#"eventType eq "user.session.start""#, &r));
        assert!(ev(r#"eventType sw "user.authentication""#, &r));
        assert!(!ev(r#"eventType sw "User.authentication""#, &r));
        assert!(ev(r#"target.id eq "0oa2" and outcome.result eq "SUCCESS""#, &r));
        assert!(ev(r#"(eventType eq "a" or eventType co "sso") and not (outcome.result eq "FAILURE")"#, &r));
        assert!(ev(r#"debugContext.debugData.x eq "a\"b""#, &r));
        assert!(ev("outcome.result pr", &r));
        assert!(!ev("outcome.reason pr", &r));
        assert!(ev(r#"outcome.reason ne "x""#, &r));
    }

    #[test]
    fn event_type_only_detection() {
        assert!(parse(r#"eventType eq "a" or eventType sw "b""#).unwrap().only_event_type());
        assert!(!parse(r#"eventType eq "a" and actor.id eq "b""#).unwrap().only_event_type());
    }

    #[test]
    fn bad_filters_say_why() {
        for (f, needle) in [
            (r#"eventType eq"#, "expected a value"),
            (r#"eventType like "x""#, "unsupported operator"),
            (r#"(eventType eq "x""#, "missing ')'"),
            (r#"eventType eq "x" foo"#, "unexpected input"),
            (r#"eventType eq "x"#, "unterminated"),
            (r#"event[0] eq "x""#, "invalid attribute"),
        ] {
            let e = parse(f).unwrap_err();
            assert!(e.contains(needle), "{f}: {e}");
        }
    }
}
