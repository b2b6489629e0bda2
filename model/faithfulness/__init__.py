"""Faithfulness guard for generated summaries: evidence for every sentence, and the numbers,
dates and names the article does not back.

Model-agnostic: it reads the article (as `parse_document` segmented it, offsets included) and
any summary text. Each summary sentence is aligned to its best supporting article sentences
(alignment.py: cosine of SentenceEncoder vectors; content-word overlap when no encoder is
given). Numbers, dates and named entities of the summary are extracted with character offsets
(numbers.py, dates.py, names.py) and checked against the article after normalisation (case,
punctuation, possessives, hyphens, "1,000" = "1000" = "one thousand", "$1.5 million" =
"1,500,000"). A policy then decides what happens to a summary with unsupported spans, and the
result always says what was done (guard.py; the result schemas are in `opslens.model.results`).

Names are found as capitalised spans (no NER model: summaries are short, and the check is
"does this name occur in the article", which needs spans, not types). Matching is
case-insensitive, so lower-cased articles (CNN/DailyMail) can still support a name. A
lower-cased summary (a model trained on lower-cased CNN/DailyMail writes one) has no
capitalised spans; there, words outside a 30k-word English vocabulary that the article lacks
are flagged as `rare_word` (rare_words.py: invented or misspelt names; common first names slip
through).
"""

from opslens.model.faithfulness.alignment import DEFAULT_TOP_K, align
from opslens.model.faithfulness.dates import find_dates
from opslens.model.faithfulness.guard import ArticleFacts, check, unsupported_spans
from opslens.model.faithfulness.names import acronyms, find_entities, name_supported, same_name_word
from opslens.model.faithfulness.numbers import find_numbers
from opslens.model.faithfulness.rare_words import common_words, find_rare_words
from opslens.model.faithfulness.spans import FactSpan, fold, name_tokens

__all__ = [
    "DEFAULT_TOP_K",
    "ArticleFacts",
    "FactSpan",
    "acronyms",
    "align",
    "check",
    "common_words",
    "find_dates",
    "find_entities",
    "find_numbers",
    "find_rare_words",
    "fold",
    "name_supported",
    "name_tokens",
    "same_name_word",
    "unsupported_spans",
]
