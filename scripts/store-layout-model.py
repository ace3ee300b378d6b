#!/usr/bin/env python3
"""A model of a store layout for IdP records (issue 18): what a store would weigh per stored IdP
record if each block of raw records also carried its records' facts and normalized events, and
SQLite held only narrow seek tables. Nothing here is what trailproof writes; it reads a store that
trailproof wrote and builds the model store beside it, so that the bytes are SQLite's own (dbstat).

    scripts/store-layout-model.py STORE.db MODEL.db [LEVEL] [hash|nohash] [text|binary]

STORE.db: a store with IdP records imported (BENCHMARKS.md, "The store per IdP record" says which
corpus). MODEL.db is overwritten. LEVEL: the zstd level (3, as trailproof's blocks). `nohash`
leaves out each record's stored content hash. `binary` writes the facts frame as numbers (varints,
times as differences) and each distinct string once per block, referred to by its number. Needs Python's `zstandard` module
(`pip install zstandard`) and an sqlite3 module with dbstat (Debian's has it).

The model, block by block of the store's `raw_blocks`:
- a "facts" frame: for each record its native id, content hash, length and place in its file, and
  for each of its events what `idp_events_full` gives (strings written out, not referenced);
- the raw records compressed by zstd with that frame's text as a raw-content dictionary, so an id
  or a string already in the frame costs a reference;
- seek tables: which blocks hold an application's SSOs, a login's events, a session's events, and
  a record's native key (8 bytes) -> (block, slot), all WITHOUT ROWID.
The frame's encoding is plain text (fields separated by 0x1f, rows by 0x1e) unless `binary`. The
per-block values (origin, stored time, provider) are left out: a few
bytes a block.
"""
import os
import sqlite3
import struct
import sys
import time

try:
    import zstandard
except ImportError:
    sys.exit("store-layout-model.py needs Python's zstandard module: pip install zstandard")

if len(sys.argv) < 3:
    sys.exit(__doc__)
store_path, model_path = sys.argv[1], sys.argv[2]
level = int(sys.argv[3]) if len(sys.argv) > 3 else 3
keep_hash = (sys.argv[4] if len(sys.argv) > 4 else "hash") == "hash"
binary = (sys.argv[5] if len(sys.argv) > 5 else "text") == "binary"

src = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
if src.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sso_blocks'").fetchone():
    sys.exit(f"{store_path} keeps its SSOs in frames (schema 24 or later); the model reads a store of schema 23 "
             "or before, whose SSOs are rows (an older trailproof's import)")
if os.path.exists(model_path):
    os.remove(model_path)
out = sqlite3.connect(model_path)
out.executescript(
    """
    CREATE TABLE blocks (id INTEGER PRIMARY KEY, provider INTEGER, min_ms INTEGER, max_ms INTEGER,
        facts BLOB, raw BLOB);
    CREATE TABLE keys (native_key INTEGER, block_id INTEGER, slot INTEGER,
        PRIMARY KEY (native_key, block_id, slot)) WITHOUT ROWID;
    CREATE TABLE seek_sso (app_ref INTEGER, block_id INTEGER, PRIMARY KEY (app_ref, block_id)) WITHOUT ROWID;
    CREATE TABLE seek_login (provider INTEGER, login_fold TEXT, block_id INTEGER,
        PRIMARY KEY (provider, login_fold, block_id)) WITHOUT ROWID;
    CREATE TABLE seek_session (provider INTEGER, session_ref INTEGER, block_id INTEGER,
        PRIMARY KEY (provider, session_ref, block_id)) WITHOUT ROWID;
    """
)

strings = dict(src.execute("SELECT id, value FROM idp_strings"))
apps = {i: (p, a, n) for i, p, a, n in src.execute("SELECT id, provider, app_id, app_name FROM idp_app_refs")}
REFS = ["user_login_ref", "user_email_ref", "user_id_ref", "display_name_ref", "app_username_ref",
        "source_ip_ref", "user_agent_ref", "tenant_ref", "native_type_ref", "outcome_reason_ref",
        "as_org_ref", "mfa_ref", "factors_ref", "auth_requirement_ref"]
events = {}
for row in src.execute(
    f"SELECT raw_id, kind, outcome, time_ms, app_ref, session_ref, asn, country, user_login_fold, event_suffix, "
    f"{', '.join(REFS)} FROM idp_events ORDER BY id"
):
    events.setdefault(row[0], []).append(row[1:])


def text(x):
    return b"" if x is None else str(x).encode()


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Binary:
    """A block's facts as numbers: each distinct string once (in the order first used), values
    as varints (0: none; a string: 1 + its number), times as zigzag differences."""

    def __init__(self):
        self.table, self.index, self.body, self.last_t = [], {}, bytearray(), 0

    def value(self, v):
        if v is None:
            self.body += varint(0)
        elif isinstance(v, int):
            self.body += varint(1 + ((v << 1) ^ (v >> 63)))
        else:
            v = str(v)
            if v not in self.index:
                self.index[v] = len(self.table)
                self.table.append(v)
            self.body += varint(1 + self.index[v])

    def time(self, t):
        d, self.last_t = t - self.last_t, t
        self.body += varint((d << 1) ^ (d >> 63))

    def frame(self):
        return "\x00".join(self.table).encode() + b"\x00\x00" + bytes(self.body)


dctx = zstandard.ZstdDecompressor()
cctx = zstandard.ZstdCompressor(level=level)
providers = {}
records = facts_bytes = raw_bytes = raw_today = 0
for block_id, data in src.execute("SELECT id, data FROM raw_blocks ORDER BY id"):
    plain = dctx.decompress(data, max_output_size=1 << 30)
    rows = src.execute(
        "SELECT id, source, native_id, native_key, block_len, content_hash, loc_record, loc_byte, loc_text "
        "FROM raw_records WHERE block_id = ? ORDER BY block_start",
        (block_id,),
    ).fetchall()
    if not rows:
        continue
    frame = bytearray()
    packer = Binary()
    provider = providers.setdefault(rows[0][1], len(providers))
    times, seeks = [], set()
    for slot, (raw_id, _source, native_id, key, length, content_hash, loc_record, loc_byte, loc_text) in enumerate(rows):
        records += 1
        if binary:
            packer.body += native_id.encode() + b"\x00"
            if keep_hash:
                packer.body += struct.pack("<q", content_hash or 0)
            for v in (length, loc_record, loc_byte, loc_text):
                packer.value(v)
        else:
            frame += native_id.encode() + b"\x1f"
            if keep_hash:
                frame += struct.pack("<q", content_hash or 0)
            frame += b"\x1f".join(map(text, (length, loc_record, loc_byte, loc_text))) + b"\x1e"
        out.execute("INSERT INTO keys VALUES (?, ?, ?)", (key, block_id, slot))
        for kind, outcome, t, app_ref, session_ref, asn, country, login_fold, suffix, *refs in events.get(raw_id, []):
            times.append(t)
            values = [kind, outcome, t, apps.get(app_ref), strings.get(session_ref), asn, country, suffix]
            values += [strings.get(r) for r in refs]
            if binary:
                packer.time(t)
                for v in values[:2] + values[3:]:
                    packer.value("|".join(map(str, v)) if isinstance(v, tuple) else v)
            else:
                frame += b"\x1f".join(map(text, values)) + b"\x1e"
            if kind == "app_sso":
                seeks.add(("sso", app_ref))
            else:
                seeks.add(("login", login_fold))
                if session_ref is not None:
                    seeks.add(("session", session_ref))
    for what, value in seeks:
        if what == "sso":
            out.execute("INSERT INTO seek_sso VALUES (?, ?)", (value, block_id))
        elif what == "login":
            out.execute("INSERT INTO seek_login VALUES (?, ?, ?)", (provider, value, block_id))
        else:
            out.execute("INSERT INTO seek_session VALUES (?, ?, ?)", (provider, value, block_id))
    if binary:
        frame = bytearray(packer.frame())
    packed_facts = cctx.compress(bytes(frame))
    dictionary = zstandard.ZstdCompressionDict(bytes(frame), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    packed_raw = zstandard.ZstdCompressor(level=level, dict_data=dictionary).compress(plain)
    # The model must give the records back byte for byte.
    back = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(packed_raw, max_output_size=1 << 30)
    assert back == plain, f"block {block_id} does not read back"
    facts_bytes += len(packed_facts)
    raw_bytes += len(packed_raw)
    raw_today += len(data)
    out.execute(
        "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)",
        (block_id, provider, min(times, default=0), max(times, default=0), packed_facts, packed_raw),
    )
out.commit()
if not records:
    sys.exit(f"{store_path} holds no IdP record in blocks")

n = records
today = sum(s for (s,) in src.execute("SELECT sum(pgsize) FROM dbstat"))
print(f"{n} stored IdP records; zstd level {level}; content hash kept: {keep_hash}; facts as {'binary' if binary else 'text'}")
print(f"store as written today (dbstat): {today / n:.1f} bytes per record")
print(f"facts frame {facts_bytes / n:.1f} B/record; raw records given it {raw_bytes / n:.1f} (alone, as today: {raw_today / n:.1f})")
total = 0
for name, size in out.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
    print(f"  {name:16s} {size / n:7.1f}")
    total += size
print(f"model store: {total / n:.1f} bytes per record")
frames = [f for (f,) in out.execute("SELECT facts FROM blocks")]
start = time.perf_counter()
plain_facts = sum(len(dctx.decompress(f, max_output_size=1 << 30)) for f in frames)
took = time.perf_counter() - start
count = sum(map(len, events.values()))
print(f"inflating every facts frame: {plain_facts / 1e6:.1f} MB in {took * 1e3:.0f} ms, {took / max(count, 1) * 1e9:.0f} ns per event ({count} events)")
