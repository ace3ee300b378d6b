use super::*;
use proptest::prelude::*;

const WRAPPERS: &[WrapperPath] = &[&["Records"], &["Events"], &["value"], &["items"], &["records"], &["hits", "hits"]];

fn split(input: &[u8], chunk: usize) -> Vec<(String, bool)> {
    let mut s = Splitter::new(input, WRAPPERS).chunk_size(chunk);
    let mut out = Vec::new();
    while let Some(r) = s.next_record().unwrap() {
        out.push((String::from_utf8_lossy(r.bytes).into_owned(), r.truncated));
    }
    out
}

fn texts(input: &str) -> Vec<String> {
    let a: Vec<String> = split(input.as_bytes(), 1 << 16).into_iter().map(|(t, _)| t).collect();
    // Every chunk size gives the same answer.
    for chunk in [1, 2, 3, 7, 64] {
        let b: Vec<String> = split(input.as_bytes(), chunk).into_iter().map(|(t, _)| t).collect();
        assert_eq!(a, b, "chunk size {chunk} differs");
    }
    // So does an input whose first bytes are already in memory (`with_head`), whole or in part.
    for k in [0, input.len() / 2, input.len()] {
        let mut s = Splitter::with_head(input.as_bytes()[..k].to_vec(), &input.as_bytes()[k..], WRAPPERS).chunk_size(3);
        let mut c = Vec::new();
        while let Some(r) = s.next_record().unwrap() {
            c.push(String::from_utf8_lossy(r.bytes).into_owned());
        }
        assert_eq!(a, c, "with a head of {k} bytes");
        assert!(s.into_buffer().is_empty());
    }
    a
}

#[test]
fn cloudtrail_records_wrapper() {
    let t = texts(r#"{"Records":[{"eventID":"a","x":{"y":[1,2]}},{"eventID":"b"}]}"#);
    assert_eq!(t, vec![r#"{"eventID":"a","x":{"y":[1,2]}}"#, r#"{"eventID":"b"}"#]);
}

#[test]
fn wrapper_with_keys_before_and_after_the_array() {
    let t =
        texts(r#"{"@odata.context":"x","value":[{"id":"1"},{"id":"2"}],"@odata.nextLink":"https://n?$skiptoken=]}"}"#);
    assert_eq!(t, vec![r#"{"id":"1"}"#, r#"{"id":"2"}"#]);
}

#[test]
fn nested_wrapper_path_elasticsearch_hits() {
    let t = texts(r#"{"took":3,"hits":{"total":{"value":2},"hits":[{"_source":{"a":1}},{"_source":{"a":2}}]}}"#);
    assert_eq!(t, vec![r#"{"_source":{"a":1}}"#, r#"{"_source":{"a":2}}"#]);
}

#[test]
fn half_a_nested_path_is_a_record() {
    // `hits` is an object but holds no `hits` array: the whole object is one record.
    let t = texts(r#"{"hits":{"total":1},"k":"v"}"#);
    assert_eq!(t, vec![r#"{"hits":{"total":1},"k":"v"}"#]);
}

#[test]
fn wrapper_key_whose_value_is_not_an_array_is_a_record() {
    let t = texts(r#"{"value":"x","id":"1"}"#);
    assert_eq!(t, vec![r#"{"value":"x","id":"1"}"#]);
}

#[test]
fn wrapper_key_inside_a_record_is_not_unwrapped() {
    let t = texts(r#"[{"id":"1","properties":{"records":[1,2]}}]"#);
    assert_eq!(t, vec![r#"{"id":"1","properties":{"records":[1,2]}}"#]);
}

#[test]
fn ndjson_and_concatenated_values() {
    let t = texts("{\"a\":1}\n{\"a\":2}\r\n\n  {\"a\":3}{\"a\":4}\n");
    assert_eq!(t, vec![r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#, r#"{"a":4}"#]);
}

#[test]
fn ndjson_of_wrapper_pages() {
    let t = texts("{\"value\":[{\"id\":1}]}\n{\"value\":[{\"id\":2},{\"id\":3}]}\n");
    assert_eq!(t, vec![r#"{"id":1}"#, r#"{"id":2}"#, r#"{"id":3}"#]);
}

#[test]
fn top_level_array_and_empty_inputs() {
    assert_eq!(texts(r#"[ {"a":1} , {"a":"]}"} ]"#), vec![r#"{"a":1}"#, r#"{"a":"]}"}"#]);
    assert!(texts("").is_empty());
    assert!(texts("  \n ").is_empty());
    assert!(texts("[]").is_empty());
    assert!(texts(r#"{"Records":[]}"#).is_empty());
}

#[test]
fn strings_with_escapes_and_braces() {
    let rec = r#"{"ua":"a \"quoted\" {brace} [x] \\","b":"\\\"}"}"#;
    assert_eq!(texts(&format!("[{rec},{rec}]")), vec![rec, rec]);
}

#[test]
fn byte_order_mark_is_skipped() {
    let t = texts("\u{feff}{\"a\":1}\n");
    assert_eq!(t, vec![r#"{"a":1}"#]);
}

#[test]
fn garbage_line_is_its_own_record() {
    let t = texts("{\"a\":1}\nnot json at all\n{\"a\":2}\n");
    assert_eq!(t, vec![r#"{"a":1}"#, "not json at all", r#"{"a":2}"#]);
}

#[test]
fn truncated_input_yields_the_tail_once() {
    let out = split(br#"[{"a":1},{"a":"#, 4);
    assert_eq!(out, vec![(r#"{"a":1}"#.to_string(), false), (r#"{"a":"#.to_string(), true)]);
    let out = split(br#"{"a":1}"#.as_slice().get(..5).unwrap(), 2);
    assert_eq!(out, vec![(r#"{"a":"#.to_string(), true)]);
}

/// Each record with why it is incomplete, for every read size.
fn incomplete(input: &[u8]) -> Vec<(String, Option<Incomplete>)> {
    let run = |chunk: usize| {
        let mut s = Splitter::new(input, WRAPPERS).chunk_size(chunk);
        let mut out = Vec::new();
        while let Some(r) = s.next_record().unwrap() {
            assert_eq!(r.truncated, r.incomplete.is_some());
            out.push((String::from_utf8_lossy(r.bytes).into_owned(), r.incomplete));
        }
        out
    };
    let a = run(1 << 16);
    for chunk in [1, 2, 5, 64] {
        assert_eq!(run(chunk), a, "chunk size {chunk} differs");
    }
    a
}

#[test]
fn a_line_cut_short_is_one_record_and_the_next_lines_are_read() {
    // Cut inside a string, then three good lines.
    let input = "{\"uuid\":\"u-0\",\"published\":\"2026-11-02T08:0\n{\"a\":1}\n{\"a\":2}\r\n{\"a\":3}\n";
    assert_eq!(
        incomplete(input.as_bytes()),
        vec![
            (r#"{"uuid":"u-0","published":"2026-11-02T08:0"#.into(), Some(Incomplete::EndOfLine)),
            (r#"{"a":1}"#.into(), None),
            (r#"{"a":2}"#.into(), None),
            (r#"{"a":3}"#.into(), None),
        ]
    );
    // Cut outside a string (the braces would otherwise never balance), CRLF line ends.
    let input = "{\"a\":{\"b\":[1,\r\n{\"a\":1}\r\n{\"a\":{\"x\":2}}\r\n";
    assert_eq!(
        incomplete(input.as_bytes()),
        vec![
            (r#"{"a":{"b":[1,"#.into(), Some(Incomplete::EndOfLine)),
            (r#"{"a":1}"#.into(), None),
            (r#"{"a":{"x":2}}"#.into(), None),
        ]
    );
    // Blank lines between: still the next record.
    assert_eq!(
        incomplete(b"{\"a\":[\n \r\n\n{\"b\":1}\n"),
        vec![(r#"{"a":["#.into(), Some(Incomplete::EndOfLine)), (r#"{"b":1}"#.into(), None)]
    );
    // The last line cut short, without a newline: the input ends inside it.
    assert_eq!(
        incomplete(b"{\"a\":1}\n{\"a\":"),
        vec![(r#"{"a":1}"#.into(), None), (r#"{"a":"#.into(), Some(Incomplete::EndOfInput))]
    );
}

#[test]
fn a_pretty_printed_object_still_spans_lines() {
    let input = "{\n  \"a\": {\n    \"b\": [1,\n2]\n  }\n}\n{ \r\n\"c\": 3\r\n}\n";
    assert_eq!(
        incomplete(input.as_bytes()),
        vec![("{\n  \"a\": {\n    \"b\": [1,\n2]\n  }\n}".into(), None), ("{ \r\n\"c\": 3\r\n}".into(), None),]
    );
    // Hand-formatted: the first key on the brace's line, then indented lines or keys.
    let input = "{\"@odata.context\": \"x\",\n \"k\": [\n  {\"id\": 1},\n  {\"id\": 2}]}\n{\"a\": 1,\n\"b\": 2}\n";
    assert_eq!(
        incomplete(input.as_bytes()),
        vec![
            ("{\"@odata.context\": \"x\",\n \"k\": [\n  {\"id\": 1},\n  {\"id\": 2}]}".into(), None),
            ("{\"a\": 1,\n\"b\": 2}".into(), None),
        ]
    );
}

#[test]
fn an_array_or_page_without_its_end_is_reported_where_the_input_ends() {
    let out = incomplete(br#"[{"a":1}, {"a":2},"#);
    assert_eq!(
        out,
        vec![
            (r#"{"a":1}"#.into(), None),
            (r#"{"a":2}"#.into(), None),
            (String::new(), Some(Incomplete::Container { depth: 1, opened_at: 0 })),
        ]
    );
    // A wrapper page whose array closed but whose object did not.
    let out = incomplete(br#"  {"Records":[{"a":1}],"x":"#);
    assert_eq!(out[1], (String::new(), Some(Incomplete::Container { depth: 1, opened_at: 2 })));
    // Complete containers report nothing.
    assert!(incomplete(br#"{"Records":[{"a":1}]} [ ] [[{"a":2}]]"#).iter().all(|(_, i)| i.is_none()));
}

#[test]
fn deep_nesting_costs_no_memory_per_level_and_is_reported() {
    // 100,000 `[`: MAX_NESTING arrays, then one value that never ends.
    let input = vec![b'['; 100_000];
    let mut s = Splitter::new(&input[..], WRAPPERS);
    let r = s.next_record().unwrap().unwrap();
    assert_eq!((r.offset, r.incomplete), (MAX_NESTING as u64, Some(Incomplete::EndOfInput)));
    assert_eq!(r.bytes.len(), 100_000 - MAX_NESTING);
    assert!(s.next_record().unwrap().is_none());
    // Closed, they hold no record and nothing is wrong.
    let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let out = split(closed.as_bytes(), 4096);
    assert_eq!(
        out,
        vec![(format!("{}{}", "[".repeat(100_000 - MAX_NESTING), "]".repeat(100_000 - MAX_NESTING)), false)]
    );
    let shallow = format!("{}{{\"a\":1}}{}", "[".repeat(10), "]".repeat(10));
    assert_eq!(texts(&shallow), vec![r#"{"a":1}"#]);
}

#[test]
fn offsets_and_indexes() {
    let input = b"{\"a\":1}\n{\"b\":2}\n";
    let mut s = Splitter::new(&input[..], WRAPPERS).chunk_size(3);
    let r = s.next_record().unwrap().unwrap();
    assert_eq!((r.offset, r.index), (0, 0));
    let r = s.next_record().unwrap().unwrap();
    assert_eq!((r.offset, r.index), (8, 1));
    assert!(s.next_record().unwrap().is_none());
    assert_eq!(s.consumed(), input.len() as u64);
}

#[test]
fn a_huge_record_is_scanned_in_linear_time() {
    // 64 MiB in one string, read 4 KiB at a time: rescanning the record after every read (as
    // the splitter did) took minutes; reading as much again each time keeps it to a few scans.
    let mut input = b"{\"a\":\"".to_vec();
    input.resize(64 << 20, b'x');
    input.extend_from_slice(b"\"}\n{\"b\":1}");
    let started = std::time::Instant::now();
    let mut s = Splitter::new(&input[..], WRAPPERS).chunk_size(4096);
    assert_eq!(s.next_record().unwrap().unwrap().bytes.len(), input.len() - 8);
    assert_eq!(s.next_record().unwrap().unwrap().bytes, br#"{"b":1}"#);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    // Past the limit: an error, after reading about the limit only.
    let mut s = Splitter::new(&input[..], WRAPPERS).chunk_size(4096).max_record(1 << 20);
    assert!(matches!(s.next_record(), Err(SplitError::TooLarge { .. })));
}

#[test]
fn byte_order_marks_of_concatenated_files_are_skipped() {
    assert_eq!(texts("\u{feff}{\"a\":1}\n\u{feff}{\"a\":2}\n"), vec![r#"{"a":1}"#, r#"{"a":2}"#]);
    // An 0xEF that does not start a mark is kept (it is garbage).
    assert_eq!(split(b"\xef\xbb{\"a\":1}\n", 2).len(), 1);
}

#[test]
fn record_size_limit_is_an_error_not_unbounded_memory() {
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(10_000));
    let mut s = Splitter::new(big.as_bytes(), WRAPPERS).chunk_size(512).max_record(1000);
    assert!(matches!(s.next_record(), Err(SplitError::TooLarge { .. })));
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        "[ -~\\\\\"{}\\[\\]é\n]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_record() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map("[a-z]{1,5}", arb_json(), 0..5)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    /// Whatever the container and read size, the records come out byte-identical to what
    /// serde_json wrote, in order.
    #[test]
    fn split_matches_serde(records in prop::collection::vec(arb_record(), 0..6), container in 0usize..4, chunk in 1usize..40, pretty in any::<bool>()) {
        let ser = |v: &serde_json::Value| if pretty { serde_json::to_string_pretty(v).unwrap() } else { serde_json::to_string(v).unwrap() };
        let recs: Vec<String> = records.iter().map(ser).collect();
        let doc = match container {
            0 => format!("[{}]", recs.join(",\n")),
            1 => recs.iter().map(|r| format!("{r}\n")).collect(),
            2 => format!("{{\"x\":[1,{{}}],\"Records\":[{}],\"y\":\"]\"}}", recs.join(",")),
            _ => format!("{{\"hits\":{{\"hits\":[{}]}}}}", recs.join(" , ")),
        };
        let got: Vec<String> = split(doc.as_bytes(), chunk).into_iter().map(|(t, tr)| { assert!(!tr); t }).collect();
        // A record that itself looks like a wrapper is unwrapped: exclude those from the check.
        prop_assume!(records.iter().all(|r| r.as_object().is_some_and(|o| !o.keys().any(|k| ["Records","Events","value","items","records","hits"].contains(&k.as_str())))));
        prop_assert_eq!(got, recs);
    }
}

proptest! {
    /// Where the walk over an object's keys finds no wrapper, the end it reports is where the
    /// bracket count (`container_end`) ends the object, for any bytes, well-formed or not.
    #[test]
    fn probe_ends_records_where_container_end_does(body in "[ab1 \"\\\\:,{}\\[\\]]{0,40}") {
        let b = format!("{{{body}");
        let probed = match probe_wrapper(b.as_bytes(), WRAPPERS) {
            Probe::Record(n) => Some(n),
            Probe::NeedMore => None,
            Probe::Wrapper { .. } | Probe::Cut(_) => unreachable!("no wrapper key in the alphabet"),
        };
        prop_assert_eq!(probed, container_end(b.as_bytes()), "{}", b);
    }
}

/// The closing quote found byte by byte: what `string_end` must agree with.
fn string_end_bytewise(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

proptest! {
    /// Strings short and long (past the word-at-a-time part), quotes and backslashes anywhere,
    /// multi-byte UTF-8 and bytes with the high bit set (which a borrow could misflag).
    #[test]
    fn string_end_agrees_with_a_bytewise_scan(parts in prop::collection::vec(prop::sample::select(vec![
        "a", "bcdefghi", "\"", "\\", "\\\"", "\\\\", "é", "\u{80}", "\u{ff}", "#", "!", "]", "0123456789abcdef"]), 0..40), from in 0usize..6) {
        let s = parts.concat();
        let b = s.as_bytes();
        let from = from.min(b.len());
        prop_assert_eq!(string_end(b, from), string_end_bytewise(b, from), "{:?} from {}", s, from);
    }
}

proptest! {
    /// The block-at-a-time bracket count ends where the byte-by-byte one does: nesting, strings
    /// with brackets and escapes inside, backslashes outside strings, values longer than a block
    /// (so escapes and strings straddle the 64-byte boundaries), inputs cut anywhere.
    #[test]
    fn container_end_agrees_with_a_bytewise_scan(parts in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", "\"", "\\", "\\\"", "\"a]\"", "\"}{\"", ",", ":", "1", "abcdefghijklmnopqrstuvwxyz0123456789",
        "é", "\u{ff}", " "]), 0..60), cut in 0usize..2000, open_with_array in any::<bool>()) {
        let s = format!("{}{}", if open_with_array { "[" } else { "{" }, parts.concat());
        let b = &s.as_bytes()[..cut.min(s.len()).max(1)];
        prop_assert_eq!(container_end(b), container_end_bytewise(b), "{:?}", String::from_utf8_lossy(b));
        prop_assert_eq!(every_scan(b, &KeyFilter::NONE), (container_end_bytewise(b), false), "{:?}", String::from_utf8_lossy(b));
    }
}

proptest! {
    /// Without backslashes every block is taken whole (quote parity, bracket counts): strings
    /// with brackets inside, across block boundaries, nesting deep and shallow, cut anywhere.
    #[test]
    fn container_end_without_escapes_agrees_with_a_bytewise_scan(parts in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", "\"", "\"a]\"", "\"}{\"", "\"{{[\"", ",", ":", "1", "abcdefghijklmnopqrstuvwxyz0123456789",
        "{\"k\":{\"l\":[1,2]}}", "é", " "]), 0..120), cut in 0usize..4000, open_with_array in any::<bool>()) {
        let s = format!("{}{}", if open_with_array { "[" } else { "{" }, parts.concat());
        let b = &s.as_bytes()[..cut.min(s.len()).max(1)];
        prop_assert_eq!(container_end(b), container_end_bytewise(b), "{:?}", String::from_utf8_lossy(b));
        prop_assert_eq!(every_scan(b, &KeyFilter::NONE), (container_end_bytewise(b), false), "{:?}", String::from_utf8_lossy(b));
    }

    /// The SIMD classification of a block against one byte at a time.
    #[test]
    fn classify_agrees_with_a_bytewise_scan(block in prop::collection::vec(prop::sample::select(vec![
        b'"', b'\\', b'{', b'}', b'[', b']', b'a', b';', b'=', b'}' ^ 0x20, b'{' ^ 0x20, 0xff, 0x80, 0, b' ']), 0..70)) {
        let mut full = [0u8; 64];
        let n = block.len().min(64);
        full[..n].copy_from_slice(&block[..n]);
        for leads in [&b""[..], b"R", b"REh", b"\"a{\xff"] {
            prop_assert_eq!(classify(&block[..n], leads, classify64), classify_bytewise(&full, leads));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the CPU has AVX-512BW (checked just above).
                prop_assert_eq!(unsafe { classify64_avx512(&full, leads) }, classify_bytewise(&full, leads));
            }
        }
    }
}

/// The end and the key answer of every way the scan runs here (the x86_64 baseline's SSE2,
/// AVX-512BW where the CPU has it, one byte at a time), which must agree: `(end, named)`.
fn every_scan(b: &[u8], keys: &KeyFilter) -> (Option<usize>, bool) {
    let flat = |r: Option<(usize, bool)>| r.map_or((None, false), |(n, k)| (Some(n), k));
    let bytewise = flat(scan_container::<true>(b, keys, classify_bytewise));
    assert_eq!(flat(scan_container::<true>(b, keys, classify64)), bytewise);
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512BW, POPCNT and BMI1 (checked just above).
        assert_eq!(flat(unsafe { scan_avx512::<true>(b, keys) }), bytewise);
    }
    bytewise
}

#[test]
fn an_escape_on_the_last_byte_of_a_block_skips_the_first_byte_of_the_next() {
    // `\` at byte 63, the escaped quote at 64: the string ends at 65, the object at 66.
    let s = format!("{{\"{}\\\"\"}}]", "a".repeat(61));
    assert_eq!(s.as_bytes()[63], b'\\');
    assert_eq!(container_end(s.as_bytes()), Some(67));
    assert_eq!(container_end_bytewise(s.as_bytes()), Some(67));
    // Cut right after the backslash: incomplete.
    assert_eq!(container_end(&s.as_bytes()[..64]), None);
}

#[test]
fn a_record_that_mentions_a_wrapper_key_is_walked_and_a_page_in_an_array_is_opened() {
    // The key's name in a value, quoted: the record is walked, found to be no wrapper, kept whole.
    let t = texts(r#"{"Records":[{"note":"\"Records\"","Records":1},{"b":"x"}]}"#);
    assert_eq!(t, vec![r#"{"note":"\"Records\"","Records":1}"#, r#"{"b":"x"}"#]);
    // Pages inside an array are still opened, whole in memory or read a few bytes at a time.
    let t = texts(r#"[{"x":1,"Records":[{"a":1},{"a":2}]},{"c":3},{"hits":{"hits":[{"d":4}]}}]"#);
    assert_eq!(t, vec![r#"{"a":1}"#, r#"{"a":2}"#, r#"{"c":3}"#, r#"{"d":4}"#]);
}

proptest! {
    /// The wrapper keys sought while a record is ended give, for any bytes, what a search of
    /// the bytes of the value it ends gives: keys whole, cut, escaped, across the 64-byte
    /// blocks, after an escape on a block's last byte, with several keys of one first byte.
    #[test]
    fn wrapper_keys_found_while_ending_agree_with_a_search_of_the_record(
        parts in prop::collection::vec(prop::sample::select(vec![
            "\"", "\\", "{", "}", "[", "]", ":", ",", "x", "abcdefghijklmnopqrstuvwxyz0123456789", "Records",
            "\"Records\"", "\"Records\"Records\"", "\"hits\"", "\"hits\"hits\"", "\"Events\"", "\"value\"",
            "\"items\"", "\"records\"", "\"Record", "s\"", "hits", "\"\"", "\"Rec\"",
        ]), 0..80),
        open_with_array in any::<bool>(),
        skip in 0usize..70,
    ) {
        let s = format!("{}{}{}", "a".repeat(skip), if open_with_array { "[" } else { "{" }, parts.concat());
        let b = &s.as_bytes()[skip..];
        let wrapper_lists: [&[WrapperPath]; 4] = [WRAPPERS, &[&["Records"], &["Events"], &["hits", "hits"]], &[&["Rec"], &["Records"]], &[&[""]]];
        for wrappers in wrapper_lists {
            let Some(keys) = KeyFilter::new(wrappers) else { continue };
            let want = container_end(b).map(|n| (n, names_a_wrapper(wrappers, &b[..n])));
            prop_assert_eq!(container_end_keys(b, &keys), want, "{:?} {:?}", String::from_utf8_lossy(b), wrappers);
            prop_assert_eq!(every_scan(b, &keys), want.map_or((None, false), |(n, k)| (Some(n), k)), "{:?}", String::from_utf8_lossy(b));
        }
    }
}

#[test]
fn wrapper_keys_are_found_at_every_place_in_a_block() {
    // A key starting at each byte of the first blocks (so at byte 63, its quote the last byte of
    // a block), as a key, as a value, escaped in a string (a backslash on a block's last byte
    // escapes the quote the key starts with).
    let keys = KeyFilter::new(WRAPPERS).unwrap();
    for pad in 0..140 {
        let x = "x".repeat(pad);
        for s in [
            format!(r#"{{"a":"{x}","Records":1}}"#),
            format!(r#"{{"a":"{x}\"Records\""}}"#),
            format!(r#"{{"a":"{x}\"Records"}}"#),
            format!(r#"{{"a":"{x}\\","b":"{x}\"hits\"","c":1}}"#),
            format!(r#"{{"a":"{x}","b":"Records"}}"#),
            format!(r#"{{"a":"{x}Records"}}"#),
        ] {
            let b = s.as_bytes();
            let want = container_end(b).map(|n| (n, names_a_wrapper(WRAPPERS, &b[..n])));
            assert_eq!(container_end_keys(b, &keys), want, "{s}");
            assert_eq!(want.map(|(n, _)| n), Some(b.len()), "{s}");
        }
    }
}
