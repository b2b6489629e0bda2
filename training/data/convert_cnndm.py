#!/usr/bin/env python3
"""Convert CNN/DailyMail "finished_files" chunks (pointer-generator .bin format)
into gzipped JSONL splits for OpsLens.

Input format (as produced by the See et al. 2017 make_datafiles pipeline):
  a sequence of records, each = 8-byte little-endian signed length + a serialized
  tf.train.Example with two bytes features: "article" (one tokenized, lowercased
  line) and "abstract" ("<s> sent </s> <s> sent </s> ...").
The protobuf is decoded by hand here, so no TensorFlow/protobuf is needed.

Usage:
  python3 training/data/convert_cnndm.py [--out DIR] [--prefix P] [--train-cap N]
                                         [--val-frac F] PATH [PATH ...]

PATH may be a .bin file or a directory of .bin files. The split is taken from
the file name prefix: train_*, val_*/valid_*/validation_*, test_*. If no
validation files are given, a validation split is carved deterministically from
train (sha1 of the id, --val-frac, default 0.05).

Output: OUT/PREFIX{train,validation,test}.jsonl.gz (default training/data/cnndm_*) with fields
  id (str), article (str), summary (str; reference sentences joined by "\\n").
Python 3.11, stdlib only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import struct
import sys

# ---------------------------------------------------------------- protobuf ---


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) for a protobuf message."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wtype = key >> 3, key & 7
        if wtype == 0:
            val, pos = _varint(buf, pos)
        elif wtype == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wtype == 2:
            ln, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + ln], pos + ln
        elif wtype == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wtype}")
        yield field, wtype, val


def parse_example(buf: bytes) -> dict[str, list[bytes]]:
    """tf.train.Example -> {feature_name: [bytes values]} (bytes_list only)."""
    out: dict[str, list[bytes]] = {}
    for f, wt, features in _fields(buf):
        if f != 1 or wt != 2:
            continue
        for f2, wt2, entry in _fields(features):  # map<string, Feature>
            if f2 != 1 or wt2 != 2:
                continue
            key, feat = None, b""
            for f3, _, v in _fields(entry):
                if f3 == 1:
                    key = v.decode("utf-8")
                elif f3 == 2:
                    feat = v
            vals: list[bytes] = []
            for f4, wt4, lst in _fields(feat):
                if f4 == 1 and wt4 == 2:  # BytesList
                    vals.extend(v for f5, _, v in _fields(lst) if f5 == 1)
            if key is not None:
                out[key] = vals
    return out


def read_bin(path: str):
    with open(path, "rb") as fh:
        while True:
            head = fh.read(8)
            if not head:
                return
            if len(head) < 8:
                raise ValueError(f"{path}: truncated length header")
            (ln,) = struct.unpack("<q", head)
            body = fh.read(ln)
            if len(body) < ln:
                raise ValueError(f"{path}: truncated record")
            yield parse_example(body)


# ------------------------------------------------------------ detokenizer ---

_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_CLITICS = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", re.I)


def detok(text: str) -> str:
    """Simple PTB-style detokenization (casing is NOT restored)."""
    toks = text.split()
    out: list[str] = []
    attach_next = False  # glue the next token to the previous one
    dquote_open = False
    for t in toks:
        lt = t.lower()
        t = _BRACKETS.get(lt, t)
        if t == "``":
            t = '"'
            dquote_open = False  # force "opening" behaviour below
        elif t == "''":
            t = '"'
            dquote_open = True  # force "closing" behaviour below
        if t == '"':
            if dquote_open:  # closing quote: glue left
                if out:
                    out[-1] += t
                else:
                    out.append(t)
                dquote_open = False
            else:  # opening quote: glue right
                out.append(t)
                attach_next = True
                dquote_open = True
            continue
        if attach_next and out:
            out[-1] += t
            attach_next = False
            continue
        attach_next = False
        if t in {",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "'"} and out:
            out[-1] += t
        elif t in {"(", "[", "{", "$", "#"}:
            out.append(t)
            attach_next = True
        else:
            out.append(t)
    s = " ".join(out)
    s = _CLITICS.sub(r"\1", s)
    s = re.sub(r"\b(gon|wan) na\b", r"\1na", s)
    s = re.sub(r"(?<=\w) - (?=\w)", "-", s)  # "editor - in - chief"
    s = re.sub(r"\s+", " ", s)
    return s.strip()


def split_abstract(abstract: str) -> list[str]:
    sents = re.findall(r"<s>(.*?)</s>", abstract, flags=re.S)
    if not sents:
        sents = [abstract]
    return [s for s in (detok(x) for x in sents) if s]


# ------------------------------------------------------------------- main ---


def split_of(path: str) -> str | None:
    base = os.path.basename(path).lower()
    if base.startswith("train"):
        return "train"
    if base.startswith(("val", "valid", "dev")):
        return "validation"
    if base.startswith("test"):
        return "test"
    return None


def chunk_key(path: str):
    m = re.search(r"(\d+)", os.path.basename(path))
    return (split_of(path) or "", int(m.group(1)) if m else -1, path)


def collect(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(p, f) for f in os.listdir(p) if f.endswith(".bin")]
        else:
            files.append(p)
    return sorted(files, key=chunk_key)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--out", default="training/data")
    ap.add_argument("--prefix", default="cnndm_", help="output file name prefix")
    ap.add_argument("--train-cap", type=int, default=60000)
    ap.add_argument("--val-frac", type=float, default=0.05)
    ap.add_argument("--min-article-words", type=int, default=30)
    args = ap.parse_args(argv)

    files = collect(args.paths)
    rows: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    seen: dict[str, str] = {}
    stats = {"empty_or_short": 0, "duplicate": 0}
    for path in files:
        split = split_of(path)
        if split is None:
            print(f"skip (unknown split): {path}", file=sys.stderr)
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        for i, ex in enumerate(read_bin(path)):
            art_raw = b" ".join(ex.get("article", [])).decode("utf-8", "replace")
            abs_raw = b" ".join(ex.get("abstract", [])).decode("utf-8", "replace")
            article = detok(art_raw)
            summary_sents = split_abstract(abs_raw)
            if len(article.split()) < args.min_article_words or not summary_sents:
                stats["empty_or_short"] += 1
                continue
            h = hashlib.sha1(article.encode("utf-8")).hexdigest()
            if h in seen:  # drop exact duplicate articles (keep first)
                stats["duplicate"] += 1
                continue
            rid = f"cnndm-{stem}-{i:04d}"
            seen[h] = rid
            rows[split].append({"id": rid, "article": article, "summary": "\n".join(summary_sents)})

    if not rows["validation"]:
        keep, val = [], []
        for r in rows["train"]:
            x = int(hashlib.sha1(r["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            (val if x < args.val_frac else keep).append(r)
        rows["train"], rows["validation"] = keep, val
    if args.train_cap and len(rows["train"]) > args.train_cap:
        rows["train"] = rows["train"][: args.train_cap]

    os.makedirs(args.out, exist_ok=True)
    for split, rs in rows.items():
        out = os.path.join(args.out, f"{args.prefix}{split}.jsonl.gz")
        # mtime=0 and no file name in the header -> byte-identical reruns
        with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
            for r in rs:
                gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
        aw = sum(len(r["article"].split()) for r in rs) / max(1, len(rs))
        sw = sum(len(r["summary"].split()) for r in rs) / max(1, len(rs))
        print(f"{split}: {len(rs)} examples, avg article {aw:.1f} words, avg summary {sw:.1f} words -> {out}")
    print(f"dropped: {stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
