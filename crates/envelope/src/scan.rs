//! A walk over the keys of one JSON object, without parsing its values: where each value starts
//! and ends is found by skipping strings and nested containers (the way `trailproof-jsonrec`
//! finds records). Used to decide from the top-level keys alone what a record is.

/// Index of the closing quote of the string whose body starts at `from`, or `None` if it does
/// not close.
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&c) = b.get(i) {
        if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The end (exclusive) of the value starting at `b[v]`.
fn value_end(b: &[u8], v: usize) -> Option<usize> {
    match b.get(v)? {
        b'{' | b'[' => trailproof_jsonrec::container_end(&b[v..]).map(|n| v + n),
        b'"' => string_end(b, v + 1).map(|e| e + 1),
        _ => {
            let n = b[v..].iter().position(|&c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))?;
            (n > 0).then_some(v + n)
        }
    }
}

/// What the visitor wants after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Calls `f(key, value)` for each key of the object `b` holds (leading whitespace allowed), in
/// order; `key` is the raw bytes between the quotes (escapes are not decoded, so a key written
/// with `\u` escapes matches nothing), `value` the value's bytes. Returns `false` when `b` is not
/// an object or is malformed or incomplete before the visitor stopped.
pub(crate) fn each_key<'a>(b: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8]) -> Flow) -> bool {
    let Some(open) = skip_ws(b, 0) else { return false };
    if b[open] != b'{' {
        return false;
    }
    let mut i = open + 1;
    loop {
        let Some(j) = skip_ws(b, i) else { return false };
        match b[j] {
            b'}' => return true,
            b',' => {
                i = j + 1;
                continue;
            }
            b'"' => {}
            _ => return false,
        }
        let Some(kend) = string_end(b, j + 1) else { return false };
        let key = &b[j + 1..kend];
        let Some(colon) = skip_ws(b, kend + 1) else { return false };
        if b[colon] != b':' {
            return false;
        }
        let Some(v) = skip_ws(b, colon + 1) else { return false };
        let Some(end) = value_end(b, v) else { return false };
        if f(key, &b[v..end]) == Flow::Stop {
            return true;
        }
        i = end;
    }
}

/// The value of `key` in the object `b`, if present (the first occurrence).
pub(crate) fn get<'a>(b: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    each_key(b, |k, v| {
        if k == key {
            found = Some(v);
            Flow::Stop
        } else {
            Flow::Continue
        }
    });
    found
}

/// The string a JSON string value holds, unescaped; `None` for any other value.
pub(crate) fn string(v: &[u8]) -> Option<String> {
    if v.first() != Some(&b'"') {
        return None;
    }
    serde_json::from_slice::<String>(v).ok()
}

/// A string value compared without unescaping (for short ASCII words such as category names).
pub(crate) fn raw_str(v: &[u8]) -> Option<&[u8]> {
    v.strip_prefix(b"\"")?.strip_suffix(b"\"")
}

pub(crate) fn is_object(v: &[u8]) -> bool {
    v.first() == Some(&b'{')
}

pub(crate) fn is_array(v: &[u8]) -> bool {
    v.first() == Some(&b'[')
}

/// Calls `f` with each element of the JSON array `v` (elements' bytes). Returns `false` when `v`
/// is not a well-formed array.
pub(crate) fn each_element<'a>(v: &'a [u8], mut f: impl FnMut(&'a [u8])) -> bool {
    let Some(open) = skip_ws(v, 0) else { return false };
    if v[open] != b'[' {
        return false;
    }
    let mut i = open + 1;
    loop {
        let Some(j) = skip_ws(v, i) else { return false };
        match v[j] {
            b']' => return true,
            b',' => {
                i = j + 1;
                continue;
            }
            _ => {}
        }
        let Some(end) = value_end(v, j) else { return false };
        f(&v[j..end]);
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_in_order_with_nesting_and_escapes() {
        let b = br#" {"a": {"x":[1,"}"]}, "b\"c" : "v\\\"", "n": -1.5e3 , "t":true,"e":[]} "#;
        let mut seen = Vec::new();
        assert!(each_key(b, |k, v| {
            seen.push((String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()));
            Flow::Continue
        }));
        assert_eq!(
            seen,
            vec![
                ("a".into(), r#"{"x":[1,"}"]}"#.into()),
                (r#"b\"c"#.into(), r#""v\\\"""#.into()),
                ("n".into(), "-1.5e3".into()),
                ("t".into(), "true".into()),
                ("e".into(), "[]".into()),
            ]
        );
        assert_eq!(get(b, b"t"), Some(&b"true"[..]));
        assert_eq!(string(get(b, br#"b\"c"#).unwrap()).as_deref(), Some("v\\\""));
    }

    #[test]
    fn not_objects_and_broken_objects_are_refused() {
        for b in [&b"[1]"[..], b"\"s\"", b"", b"{\"a\":", b"{\"a\" 1}", b"{\"a\":\"open}", b"{1:2}"] {
            assert!(!each_key(b, |_, _| Flow::Continue), "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn array_elements() {
        let mut n = Vec::new();
        assert!(each_element(br#"[ {"a":1}, "x,y" ,3,[4]]"#, |e| n.push(e.to_vec())));
        assert_eq!(n, vec![br#"{"a":1}"#.to_vec(), br#""x,y""#.to_vec(), b"3".to_vec(), b"[4]".to_vec()]);
        assert!(!each_element(b"{}", |_| {}));
    }
}
