//! A block's records laid out as columns before they are compressed (migration 26's blocks).
//!
//! The records of a block are JSON of a few shapes. Compressed one after another, zstd pays for
//! each record's keys and punctuation again, as a match among the values around them. Here each
//! record is cut into its **skeleton** (everything but its values: keys, punctuation, white
//! space) and its **values** (strings that are not keys, numbers, `true`, `false`, `null`). A
//! block stores each skeleton once, which skeleton each record has, and the values column by
//! column: the n-th value of every record of a skeleton, one after another. A column of user
//! names, addresses or outcomes then compresses against itself. On the 3,000-user day this
//! makes the compressed blocks 13 % smaller, 25 % with the ids as dictionary (BENCHMARKS.md,
//! "Blocks as columns").
//!
//! The cut loses nothing, whatever the bytes: every byte of a record is either in a skeleton
//! piece or in a value, in order, and a record reads back as its pieces and values
//! interleaved. A value never holds a newline (its terminator in a column); a token that would
//! stays in the skeleton. Bytes that are not JSON stay in the skeleton too.
//!
//! The layout, before compression: a postcard [`Head`] (the skeletons, each a list of pieces;
//! each record's skeleton), then the columns: for each skeleton in order, for each of its value
//! slots in order, for each record of that skeleton in order, the value and `\n`.
//! This module does no I/O and no compression ([`crate::raw`] does).

use std::collections::HashMap;

/// The most a block reads back as: blocks hold a few MB (ingest's chunks), and a damaged
/// layout must not ask for more memory than the machine has.
const MAX_BLOCK: usize = 1 << 30;

/// What precedes the columns.
#[derive(serde::Serialize, serde::Deserialize)]
struct Head<'a> {
    /// Each skeleton's pieces: a record of it is piece 0, value 0, piece 1, ..., the last piece.
    #[serde(borrow)]
    skeletons: Vec<Vec<&'a [u8]>>,
    /// The skeleton of each record, in order.
    of_record: Vec<u32>,
}

/// The end of the JSON string starting at `rec[start]` (a `"`): the index after its closing
/// quote, or `None` when it is not closed.
fn string_end(rec: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < rec.len() {
        match memchr::memchr2(b'"', b'\\', &rec[i..]) {
            None => return None,
            Some(k) => {
                i += k;
                if rec[i] == b'\\' {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// Cuts one record (see the top of the module): the ranges of its skeleton's pieces and of its
/// values, offset by `base`, appended to `pieces` and `values`.
fn cut(rec: &[u8], base: usize, pieces: &mut Vec<(usize, usize)>, values: &mut Vec<(usize, usize)>) {
    let mut piece_start = 0;
    let mut i = 0;
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    while i < rec.len() {
        let b = rec[i];
        let end = match b {
            b'"' => {
                let Some(end) = string_end(rec, i) else { break };
                let mut j = end;
                while j < rec.len() && is_space(rec[j]) {
                    j += 1;
                }
                if rec.get(j) == Some(&b':') {
                    // A key: part of the skeleton.
                    i = end;
                    continue;
                }
                end
            }
            b'-' | b'0'..=b'9' => {
                let n = rec[i + 1..]
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                    .count();
                i + 1 + n
            }
            b't' if rec[i..].starts_with(b"true") => i + 4,
            b'f' if rec[i..].starts_with(b"false") => i + 5,
            b'n' if rec[i..].starts_with(b"null") => i + 4,
            _ => {
                i += 1;
                continue;
            }
        };
        if memchr::memchr(b'\n', &rec[i..end]).is_some() {
            i = end;
            continue;
        }
        pieces.push((base + piece_start, base + i));
        values.push((base + i, base + end));
        piece_start = end;
        i = end;
    }
    pieces.push((base + piece_start, base + rec.len()));
}

/// Lays out the records `data[ends[k-1]..ends[k]]` (the first from 0) as columns. `ends` must
/// be non-decreasing and end at `data.len()`; bytes past the last end form one more record.
#[cfg(test)]
pub(crate) fn encode(data: &[u8], ends: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(data, ends, &mut out);
    out
}

/// What [`encode_into`] builds on the way, kept by each thread: a block's value ranges are some
/// 1.6 MB, and fresh pages for them each block cost more than the cutting (page faults).
#[derive(Default)]
struct Scratch {
    members: Vec<Vec<(usize, usize)>>,
    pieces: Vec<(usize, usize)>,
    values: Vec<(usize, usize)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// [`encode`] into `out` (cleared first), so that a thread can reuse one buffer.
pub(crate) fn encode_into(data: &[u8], ends: &[usize], out: &mut Vec<u8>) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => encode_with(data, ends, out, &mut scratch),
        Err(_) => encode_with(data, ends, out, &mut Scratch::default()),
    })
}

fn encode_with(data: &[u8], ends: &[usize], out: &mut Vec<u8>, scratch: &mut Scratch) {
    let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(ends.len() + 1);
    let mut start = 0;
    for &e in ends {
        let e = e.clamp(start, data.len());
        bounds.push((start, e));
        start = e;
    }
    if start < data.len() {
        bounds.push((start, data.len()));
    }
    let mut skeletons: Vec<Vec<&[u8]>> = Vec::new();
    // Skeletons by their number of pieces and bytes (cheaper to find than by a hash of all
    // their bytes), each then compared whole.
    let mut by_size: HashMap<(usize, usize), Vec<u32>> = HashMap::new();
    let mut of_record = Vec::with_capacity(bounds.len());
    // Per skeleton, its records' value ranges, record after record.
    let Scratch { members, pieces, values } = scratch;
    members.iter_mut().for_each(Vec::clear);
    let mut used = 0;
    let mut last: Option<u32> = None;
    for &(s, e) in &bounds {
        pieces.clear();
        values.clear();
        cut(&data[s..e], s, pieces, values);
        let same = |id: u32| {
            let known = &skeletons[id as usize];
            known.len() == pieces.len() && known.iter().zip(pieces.iter()).all(|(k, &(a, b))| *k == &data[a..b])
        };
        // Records of a shape tend to come together: the last skeleton is tried first.
        let id = match last.filter(|id| same(*id)) {
            Some(id) => id,
            None => {
                let size = (pieces.len(), pieces.iter().map(|(a, b)| b - a).sum::<usize>());
                let known = by_size.entry(size).or_default();
                match known.iter().copied().find(|id| same(*id)) {
                    Some(id) => id,
                    None => {
                        let id = skeletons.len() as u32;
                        known.push(id);
                        skeletons.push(pieces.iter().map(|&(a, b)| &data[a..b]).collect());
                        used += 1;
                        if members.len() < used {
                            members.push(Vec::new());
                        }
                        id
                    }
                }
            }
        };
        last = Some(id);
        of_record.push(id);
        members[id as usize].extend_from_slice(values);
    }
    let head = Head { skeletons, of_record };
    out.clear();
    out.reserve(data.len() + 16 * head.of_record.len() + 1024);
    // Writing to a Vec fails only when postcard cannot say a length, which a slice always has.
    let _ = postcard::to_io(&head, &mut *out);
    for (id, ranges) in members[..used].iter().enumerate() {
        let slots = head.skeletons[id].len() - 1;
        for slot in 0..slots {
            for &(a, b) in ranges.iter().skip(slot).step_by(slots) {
                out.extend_from_slice(&data[a..b]);
                out.push(b'\n');
            }
        }
    }
}

/// The records [`encode`] laid out, one after another.
pub(crate) fn decode(laid: &[u8]) -> Result<Vec<u8>, String> {
    let (head, mut rest): (Head<'_>, &[u8]) = postcard::take_from_bytes(laid)
        .map_err(|e| format!("a block's columns do not begin with their skeletons: {e}"))?;
    let n = head.skeletons.len();
    if head.skeletons.iter().any(Vec::is_empty) {
        return Err("a block's skeleton has no pieces".to_string());
    }
    let mut count = vec![0usize; n];
    for &id in &head.of_record {
        *count.get_mut(id as usize).ok_or_else(|| format!("a record names skeleton {id} of {n}"))? += 1;
    }
    // Each skeleton's values, column by column: value `slot` of its k-th record is
    // `values[id][slot * count[id] + k]`.
    let mut values: Vec<Vec<&[u8]>> = Vec::with_capacity(n);
    let mut total = 0usize;
    for (id, pieces) in head.skeletons.iter().enumerate() {
        let cells = (pieces.len() - 1)
            .checked_mul(count[id])
            .filter(|c| *c <= rest.len())
            .ok_or_else(|| format!("skeleton {id}'s columns are longer than the block"))?;
        let mut column = Vec::with_capacity(cells);
        for _ in 0..cells {
            let k = memchr::memchr(b'\n', rest).ok_or_else(|| format!("skeleton {id}'s columns are cut short"))?;
            column.push(&rest[..k]);
            total += k;
            rest = &rest[k + 1..];
        }
        total = pieces
            .iter()
            .map(|p| p.len())
            .sum::<usize>()
            .checked_mul(count[id])
            .and_then(|t| t.checked_add(total))
            .filter(|t| *t <= MAX_BLOCK)
            .ok_or_else(|| format!("a block's records would read back as more than {MAX_BLOCK} bytes"))?;
        values.push(column);
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes follow a block's last column", rest.len()));
    }
    let mut out = Vec::with_capacity(total);
    let mut seen = vec![0usize; n];
    for &id in &head.of_record {
        let id = id as usize;
        let (pieces, k) = (&head.skeletons[id], seen[id]);
        seen[id] += 1;
        for (slot, piece) in pieces.iter().enumerate() {
            out.extend_from_slice(piece);
            if slot + 1 < pieces.len() {
                out.extend_from_slice(values[id][slot * count[id] + k]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(records: &[&[u8]]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for r in records {
            data.extend_from_slice(r);
            ends.push(data.len());
        }
        let laid = encode(&data, &ends);
        let back = decode(&laid).expect("decodes");
        assert_eq!(back, data, "records {records:?}");
        laid
    }

    /// A record is cut into skeleton and values as documented: keys stay in the skeleton,
    /// strings, numbers and literals are values, and a token holding a newline stays whole in
    /// the skeleton.
    #[test]
    fn keys_stay_in_the_skeleton_and_values_go_to_columns() {
        let rec = br#"{"a": "x", "b" :-1.5e3,"c":[true,false,null],"d":"two
lines"}"#;
        let (mut p, mut v) = (Vec::new(), Vec::new());
        cut(rec, 0, &mut p, &mut v);
        let values: Vec<&[u8]> = v.iter().map(|&(a, b)| &rec[a..b]).collect();
        assert_eq!(values, vec![&b"\"x\""[..], b"-1.5e3", b"true", b"false", b"null"]);
        let pieces: Vec<&[u8]> = p.iter().map(|&(a, b)| &rec[a..b]).collect();
        assert_eq!(pieces[0], br#"{"a": "#);
        assert!(pieces.last().unwrap().ends_with(b"\"two\nlines\"}"));
    }

    /// Records of one shape share their skeleton: the second costs only its values.
    #[test]
    fn records_of_one_shape_share_a_skeleton() {
        let one = round_trip(&[br#"{"user":"ann","ip":"10.0.0.1","ok":true}"#]);
        let two = round_trip(&[
            br#"{"user":"ann","ip":"10.0.0.1","ok":true}"#,
            br#"{"user":"bob","ip":"10.0.0.2","ok":false}"#,
        ]);
        let (head, _): (Head<'_>, &[u8]) = postcard::take_from_bytes(&two).unwrap();
        assert_eq!(head.skeletons.len(), 1);
        assert_eq!(head.of_record, vec![0, 0]);
        assert!(two.len() - one.len() < 30, "{} then {}", one.len(), two.len());
    }

    /// Bytes that are not JSON, cut strings, empty records, escapes and a trailing part past the
    /// last end all read back as they were.
    #[test]
    fn odd_records_read_back_byte_for_byte() {
        round_trip(&[b"", b"", b"not json at all", br#"{"a":"unclosed"#, br#"{"esc":"a\"b\\","n":-}"#]);
        round_trip(&[br#"["\\"]"#, b"\"", b"\\", br#"{"k":"v"}"#, b"\n\n", b"\xff\xfe{\"x\":1}"]);
        round_trip(&[]);
        let data = br#"{"a":1}{"b":2}tail"#;
        assert_eq!(decode(&encode(data, &[7, 14])).unwrap(), data.to_vec());
        assert_eq!(decode(&encode(data, &[])).unwrap(), data.to_vec());
    }

    /// A damaged layout is an error, never a panic or a wrong record.
    #[test]
    fn a_damaged_layout_is_an_error() {
        let laid = round_trip(&[br#"{"user":"ann","n":1}"#, br#"{"user":"bob","n":2}"#]);
        assert!(decode(&laid[..laid.len() - 1]).is_err());
        let mut more = laid.clone();
        more.extend_from_slice(b"x\n");
        assert!(decode(&more).is_err());
        assert!(decode(b"").is_err());
    }

    proptest! {
        /// Whatever the bytes and wherever the records end, they read back byte for byte.
        #[test]
        fn any_bytes_read_back(data in proptest::collection::vec(
            proptest::sample::select(b"{}[]:,\"\\ \n\t-0123456789.eEtruefalsnl xyz\xff".to_vec()), 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let mut ends: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            ends.sort_unstable();
            prop_assert_eq!(decode(&encode(&data, &ends)).unwrap(), data);
        }

        /// Decoding arbitrary bytes returns, or fails, without panicking.
        #[test]
        fn decoding_garbage_does_not_panic(laid in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&laid);
        }
    }
}
