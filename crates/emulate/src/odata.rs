//! The OData `$filter` subset Graph accepts on `auditLogs/signIns`: comparisons
//! (`eq ne gt ge lt le`) on property paths (`status/errorCode`), unquoted date-time literals,
//! `'quoted'` strings (`''` escapes a quote), `startsWith`/`endsWith`/`contains`, lambda
//! `any(t: t eq 'x')` on collections, `and`, `or`, `not`, parentheses.
//! String equality is case-insensitive (as for Graph directory data).

use serde_json::Value;

use crate::data::parse_ns;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Time(i128),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp { path: Vec<String>, op: Op, lit: Lit },
    Func { func: Func, path: Vec<String>, arg: String },
    Any { path: Vec<String>, var: String, inner: Box<Expr> },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    Colon,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let numeric = c.is_ascii_digit() || c == '-';
                let mut w = String::new();
                while let Some(&c) = chars.get(i) {
                    let ok = c.is_alphanumeric()
                        || matches!(c, '_' | '.' | '/' | '-' | '$' | '@')
                        || (numeric && matches!(c, ':' | '+'));
                    if !ok {
                        break;
                    }
                    w.push(c);
                    i += 1;
                }
                if w.is_empty() {
                    return Err(format!("unexpected character {c:?}"));
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn path_of(w: &str) -> Result<Vec<String>, String> {
    let segs: Vec<String> = w.split('/').map(str::to_string).collect();
    if segs.iter().any(|s| s.is_empty() || !s.chars().all(|c| c.is_alphanumeric() || c == '_')) {
        return Err(format!("invalid property path {w:?}"));
    }
    Ok(segs)
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

    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Tok::Open) => {
                let e = self.or()?;
                self.expect(Tok::Close)?;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                let func = match w.to_ascii_lowercase().as_str() {
                    "startswith" => Some(Func::StartsWith),
                    "endswith" => Some(Func::EndsWith),
                    "contains" => Some(Func::Contains),
                    _ => None,
                };
                if let Some(func) = func {
                    self.expect(Tok::Open)?;
                    let path = match self.next() {
                        Some(Tok::Word(p)) => path_of(&p)?,
                        other => return Err(format!("expected a property in {w}(), found {other:?}")),
                    };
                    self.expect(Tok::Comma)?;
                    let arg = match self.next() {
                        Some(Tok::Str(s)) => s,
                        other => return Err(format!("expected a 'string' in {w}(), found {other:?}")),
                    };
                    self.expect(Tok::Close)?;
                    return Ok(Expr::Func { func, path, arg });
                }
                let mut path = path_of(&w)?;
                if path.last().is_some_and(|l| l.eq_ignore_ascii_case("any"))
                    && self.toks.get(self.pos) == Some(&Tok::Open)
                {
                    path.pop();
                    self.pos += 1;
                    let var = match self.next() {
                        Some(Tok::Word(v)) => v,
                        other => return Err(format!("expected a lambda variable, found {other:?}")),
                    };
                    self.expect(Tok::Colon)?;
                    let inner = self.or()?;
                    self.expect(Tok::Close)?;
                    return Ok(Expr::Any { path, var, inner: Box::new(inner) });
                }
                let op = match self.next() {
                    Some(Tok::Word(op)) => match op.to_ascii_lowercase().as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        other => return Err(format!("unsupported operator {other:?}")),
                    },
                    other => return Err(format!("expected an operator after {w:?}, found {other:?}")),
                };
                let lit = match self.next() {
                    Some(Tok::Str(s)) => Lit::Str(s),
                    Some(Tok::Word(v)) => match v.as_str() {
                        "true" => Lit::Bool(true),
                        "false" => Lit::Bool(false),
                        "null" => Lit::Null,
                        v if v.contains('T') && v.starts_with(|c: char| c.is_ascii_digit()) => {
                            Lit::Time(parse_ns(v).ok_or_else(|| format!("invalid date-time literal {v:?}"))?)
                        }
                        v => Lit::Num(v.parse().map_err(|_| format!("invalid literal {v:?}"))?),
                    },
                    other => return Err(format!("expected a literal after {w} {op:?}, found {other:?}")),
                };
                Ok(Expr::Cmp { path, op, lit })
            }
            other => Err(format!("expected a property, function, 'not' or '(', found {other:?}")),
        }
    }
}

pub(crate) fn parse(s: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: lex(s)?, pos: 0 };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected input after the expression: {:?}", p.toks.get(p.pos)));
    }
    Ok(e)
}

fn resolve<'a>(root: &'a Value, bound: Option<(&str, &'a Value)>, path: &[String]) -> Option<&'a Value> {
    let (mut cur, rest) = match (bound, path.first()) {
        (Some((var, v)), Some(first)) if first == var => (v, path.get(1..).unwrap_or(&[])),
        _ => (root, path),
    };
    for seg in rest {
        cur = cur.get(seg.as_str())?;
    }
    Some(cur)
}

impl Expr {
    /// True when the expression names this top-level property anywhere.
    pub(crate) fn mentions(&self, prop: &str) -> bool {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => a.mentions(prop) || b.mentions(prop),
            Expr::Not(a) => a.mentions(prop),
            Expr::Cmp { path, .. } | Expr::Func { path, .. } => path.first().is_some_and(|p| p == prop),
            Expr::Any { path, inner, .. } => path.first().is_some_and(|p| p == prop) || inner.mentions(prop),
        }
    }

    pub(crate) fn eval(&self, root: &Value) -> bool {
        self.eval_in(root, None)
    }

    fn eval_in(&self, root: &Value, bound: Option<(&str, &Value)>) -> bool {
        match self {
            Expr::Or(a, b) => a.eval_in(root, bound) || b.eval_in(root, bound),
            Expr::And(a, b) => a.eval_in(root, bound) && b.eval_in(root, bound),
            Expr::Not(a) => !a.eval_in(root, bound),
            Expr::Func { func, path, arg } => {
                let Some(Value::String(v)) = resolve(root, bound, path) else { return false };
                let (v, a) = (v.to_lowercase(), arg.to_lowercase());
                match func {
                    Func::StartsWith => v.starts_with(&a),
                    Func::EndsWith => v.ends_with(&a),
                    Func::Contains => v.contains(&a),
                }
            }
            Expr::Any { path, var, inner } => match resolve(root, bound, path) {
                Some(Value::Array(items)) => items.iter().any(|it| inner.eval_in(root, Some((var.as_str(), it)))),
                _ => false,
            },
            Expr::Cmp { path, op, lit } => {
                let v = resolve(root, bound, path).unwrap_or(&Value::Null);
                compare(v, *op, lit)
            }
        }
    }
}

fn compare(v: &Value, op: Op, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (_, Lit::Null) => return op == Op::Ne,
        (Value::String(s), Lit::Time(t)) => parse_ns(s).map(|x| x.cmp(t)),
        (Value::String(s), Lit::Str(l)) => Some(s.to_lowercase().cmp(&l.to_lowercase())),
        (Value::Number(n), Lit::Num(l)) => n.as_f64().and_then(|n| n.partial_cmp(l)),
        (Value::String(s), Lit::Num(l)) => s.parse::<f64>().ok().and_then(|n| n.partial_cmp(l)),
        (Value::Bool(b), Lit::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    };
    let Some(ord) = ord else { return op == Op::Ne };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec() -> Value {
        json!({"createdDateTime":"2024-05-01T10:00:00.1234567Z","appId":"AAA-bbb","userPrincipalName":"alice@x.com",
               "appDisplayName":"AWS Prod","status":{"errorCode":0},"signInEventTypes":["nonInteractiveUser"]})
    }

    fn ev(f: &str) -> bool {
        parse(f).unwrap().eval(&rec())
    }

    #[test]
    fn time_window_and_app() {
        assert!(ev(
            "createdDateTime ge 2024-05-01T00:00:00Z and createdDateTime le 2024-05-01T23:59:59Z and appId eq 'aaa-BBB'"
        ));
        assert!(!ev("createdDateTime ge 2024-05-01T10:00:00.1234568Z"));
        assert!(ev("createdDateTime le 2024-05-01T12:30:00+02:00"));
        assert!(!ev("createdDateTime le 2024-05-01T12:00:00+02:00"));
        assert!(!ev("createdDateTime lt 2024-05-01T10:00:00Z"));
        assert!(!ev("appId eq 'other'"));
    }

    #[test]
    fn functions_lambdas_nesting() {
        assert!(ev("startsWith(appDisplayName,'aws')"));
        assert!(ev("status/errorCode eq 0"));
        assert!(ev("signInEventTypes/any(t: t eq 'nonInteractiveUser')"));
        assert!(!ev("signInEventTypes/any(t: t eq 'interactiveUser')"));
        assert!(ev("(userPrincipalName eq 'bob@x.com' or userPrincipalName eq 'ALICE@x.com') and not (appId eq 'z')"));
        assert!(ev("userPrincipalName eq 'o''brien' or appId ne null"));
        assert!(parse("signInEventTypes/any(t: t eq 'x')").unwrap().mentions("signInEventTypes"));
    }

    #[test]
    fn bad_filters_say_why() {
        for (f, needle) in [
            ("createdDateTime ge 2024-13-01T00:00:00Z", "invalid date-time"),
            ("appId eq 'x", "unterminated"),
            ("appId has 'x'", "unsupported operator"),
            ("appId eq 'x' appId", "unexpected input"),
            ("startsWith(appId 'x')", "expected Comma"),
        ] {
            let e = parse(f).unwrap_err();
            assert!(e.contains(needle), "{f}: {e}");
        }
    }
}
