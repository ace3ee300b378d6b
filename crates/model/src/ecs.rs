//! Reading Elastic Common Schema documents, whose fields may be nested objects
//! (`{"event": {"id": …}}`) or dotted keys (`{"event.id": …}`), or a mix of both.

use serde_json::Value;

/// The value at a dotted path, whether the document nests objects or uses dotted keys.
pub fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    let mut at = 0;
    while let Some(i) = path[at..].find('.') {
        let (head, rest) = (&path[..at + i], &path[at + i + 1..]);
        if let Some(x) = obj.get(head).and_then(|inner| lookup(inner, rest)) {
            return Some(x);
        }
        at += i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::lookup;
    use serde_json::json;

    #[test]
    fn nested_dotted_and_mixed_paths() {
        let v = json!({"event": {"id": "1", "action.name": "a"}, "source.user.email": "e", "a": {"b.c": {"d": 4}}});
        assert_eq!(lookup(&v, "event.id"), Some(&json!("1")));
        assert_eq!(lookup(&v, "event.action.name"), Some(&json!("a")));
        assert_eq!(lookup(&v, "source.user.email"), Some(&json!("e")));
        assert_eq!(lookup(&v, "a.b.c.d"), Some(&json!(4)));
        assert_eq!(lookup(&v, "event.missing"), None);
        assert_eq!(lookup(&json!([1]), "x"), None);
    }
}
