#!/usr/bin/env python3
"""Convert LiteLLM's model price list into Portcullis's bundled price table.

Usage:
    python3 crates/pricing/tools/import_litellm.py SOURCE --version V [--date YYYY-MM-DD]
        [--out crates/pricing/data/prices.json]

SOURCE is LiteLLM's `model_prices_and_context_window.json` (MIT, (c) Berri AI). It ships in
the `litellm` wheel on PyPI as `litellm/model_prices_and_context_window_backup.json`, and
SOURCE may name the wheel itself (the JSON is read from inside the zip):

    pip index versions litellm
    pip download litellm==V --no-deps -d /tmp/litellm
    python3 crates/pricing/tools/import_litellm.py /tmp/litellm/litellm-V-*.whl --version V

What it does (see crates/pricing/data/README.md for the output format):
  * keeps the providers Portcullis supports and renames LiteLLM's provider names to Portkey's
    slugs (PROVIDER_MAP); drops the provider prefix from model ids (`gemini/x` -> `x`);
  * skips LiteLLM's size-class buckets (`together-ai-4.1b-8b`), Azure region-prefixed keys
    (`azure/eu/...`) and entries with no price at all; resolves `alias_of` entries;
  * prices become USD per million tokens (exact decimal arithmetic, no float drift);
    per-unit prices (per request / image / second / query / page) stay USD per unit;
  * long-context prices (`*_above_200k_tokens` ...) and `tiered_pricing` become a tier list;
    a tier field the source leaves out is derived from the base price scaled by the tier's
    input ratio (cache discounts are multiples of the input price), never copied unscaled;
  * Anthropic's first-party entries lack the >200k tiers that LiteLLM records on the same
    models under Vertex AI: when the base prices match exactly, those tiers are copied over;
  * a cache-write price of 0 next to a positive input price is treated as "not priced
    separately" (falls back to the input price) rather than as free.
Writes one model per line, sorted by provider and model, so a regeneration diffs cleanly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
import zipfile
from decimal import Decimal, ROUND_HALF_EVEN

WHEEL_MEMBER = "litellm/model_prices_and_context_window_backup.json"

# LiteLLM provider name -> Portkey slug. Only providers Portcullis supports.
PROVIDER_MAP = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure-openai",
    "azure_text": "azure-openai",
    "azure_ai": "azure-ai",
    "anthropic": "anthropic",
    "gemini": "google",
    "groq": "groq",
    "together_ai": "together-ai",
    "mistral": "mistral-ai",
    "deepseek": "deepseek",
    "fireworks_ai": "fireworks-ai",
    "fireworks_ai-embedding-models": "fireworks-ai",
    "perplexity": "perplexity-ai",
    "xai": "x-ai",
    "cerebras": "cerebras",
    "deepinfra": "deepinfra",
    "nebius": "nebius",
    "sambanova": "sambanova",
    "hyperbolic": "hyperbolic",
    "novita": "novita-ai",
    "nvidia_nim": "nvidia-nim",
    "lambda_ai": "lambda",
    "dashscope": "dashscope",
    "moonshot": "moonshot",
    "zai": "z-ai",
    "bigmodel": "zhipu",
    "featherless_ai": "featherless-ai",
    "nscale": "nscale",
}

# Key prefixes that are not the provider name (LiteLLM routes by them).
KEY_PREFIXES = {
    "text-completion-openai": ["text-completion-openai/", "openai/"],
    "fireworks_ai-embedding-models": ["fireworks_ai/"],
    "azure_text": ["azure_text/", "azure/"],
}

# LiteLLM's parameter-count buckets are not model ids.
BUCKET_KEY = re.compile(r"^(together-ai|fireworks-ai)-")
AZURE_REGION = re.compile(r"^(eu|us|global|global-standard|apac|au|jp|uk)/")

TOKEN_FIELDS = {
    # our field: (litellm base field, litellm suffix stem for tiers)
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cached_input": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "reasoning": "output_cost_per_reasoning_token",
}
FIELD_ORDER = ["input", "output", "cached_input", "cache_write", "cache_write_1h", "reasoning"]

# Units priced per million (tokens or characters).
PER_MILLION_UNITS = {
    "input_audio": "input_cost_per_audio_token",
    "output_audio": "output_cost_per_audio_token",
    "cached_input_audio": "cache_read_input_audio_token_cost",
    "input_image_token": "input_cost_per_image_token",
    "output_image_token": "output_cost_per_image_token",
    "input_video_token": "input_cost_per_video_token",
    "input_character": "input_cost_per_character",
    "output_character": "output_cost_per_character",
}
# Units priced per unit (USD per request / image / second / query / page).
PER_UNIT_UNITS = {
    "per_request": "input_cost_per_request",
    "per_input_image": "input_cost_per_image",
    "per_output_image": "output_cost_per_image",
    "per_input_second": "input_cost_per_second",
    "per_output_second": "output_cost_per_second",
    "per_input_audio_second": "input_cost_per_audio_per_second",
    "per_input_video_second": "input_cost_per_video_per_second",
    "per_output_video_second": "output_cost_per_video_per_second",
    "per_query": "input_cost_per_query",
    "per_page": "ocr_cost_per_page",
}

TIER_RE = re.compile(r"^(.*)_above_(\d+)k_tokens$")

NANO = Decimal("0.000000001")
MILLION = Decimal(1_000_000)

stats = {"precision_rounded": 0, "tier_fields_derived": 0, "zero_cache_write_dropped": 0,
         "conflicts": 0, "vertex_tiers_copied": 0}


def dec(v) -> Decimal | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return Decimal(repr(v))


def to_per_million(v) -> Decimal | None:
    d = dec(v)
    return None if d is None else d * MILLION


def finish(d: Decimal) -> Decimal:
    """Rounds to nano-dollars (per million tokens, or per unit)."""
    q = d.quantize(NANO, rounding=ROUND_HALF_EVEN)
    if q != d:
        stats["precision_rounded"] += 1
    return q


def num(d: Decimal) -> str:
    """Plain decimal text: no exponent, no trailing zeros."""
    d = finish(d).normalize()
    if d == d.to_integral_value():
        return str(int(d))
    return format(d, "f")


def token_prices(entry: dict, stem_suffix: str = "") -> dict:
    out = {}
    for ours, theirs in TOKEN_FIELDS.items():
        key = theirs + stem_suffix
        if ours == "cache_write_1h" and stem_suffix:
            key = "cache_creation_input_token_cost_above_1hr" + stem_suffix
        d = to_per_million(entry.get(key))
        if d is not None:
            out[ours] = d
    return out


def clean_prices(p: dict) -> dict:
    """Drops redundant fields: reasoning equal to output; zero cache-write beside priced input."""
    if "reasoning" in p and "output" in p and p["reasoning"] == p["output"]:
        del p["reasoning"]
    for f in ("cache_write", "cache_write_1h"):
        if f in p and p[f] == 0 and p.get("input", 0) > 0:
            del p[f]
            stats["zero_cache_write_dropped"] += 1
    return p


def derive_tier(base: dict, tier: dict) -> dict:
    """Completes a tier: missing fields scale the base price by the tier's input ratio."""
    if "input" not in tier:
        return {}
    ratio = tier["input"] / base["input"] if base.get("input") else None
    if "output" not in tier:
        if "output" not in base:
            return {}
        tier["output"] = base["output"]  # the source only raised input: output unchanged
    for f in ("cached_input", "cache_write", "cache_write_1h", "reasoning"):
        if f in tier or f not in base:
            continue
        if f == "reasoning":
            # reasoning follows output's ratio
            if base.get("output"):
                tier[f] = base[f] * tier["output"] / base["output"]
                stats["tier_fields_derived"] += 1
            continue
        if ratio is not None:
            tier[f] = base[f] * ratio
            stats["tier_fields_derived"] += 1
    return tier


def tiers_of(entry: dict, base: dict) -> list:
    thresholds = set()
    for k in entry:
        m = TIER_RE.match(k)
        if not m:
            continue
        stem = m.group(1)
        if stem in TOKEN_FIELDS.values() or stem == "cache_creation_input_token_cost_above_1hr":
            thresholds.add(int(m.group(2)))
    tiers = []
    for t in sorted(thresholds):
        tier = token_prices(entry, f"_above_{t}k_tokens")
        tier = derive_tier(base, tier)
        if tier:
            tiers.append((t * 1000, tier))
    # tiered_pricing: [{"range": [lo, hi], "input_cost_per_token": ...}, ...]
    for i, band in enumerate(entry.get("tiered_pricing") or []):
        rng = band.get("range")
        if not rng or i == 0 and rng[0] == 0:
            continue
        lo = int(rng[0])
        tier = derive_tier(base, token_prices(band))
        if tier:
            tiers.append((lo, tier))
    return tiers


def units_of(entry: dict) -> dict:
    units = {}
    for ours, theirs in PER_MILLION_UNITS.items():
        d = to_per_million(entry.get(theirs))
        if d is not None and d > 0:
            units[ours] = d
    for ours, theirs in PER_UNIT_UNITS.items():
        d = dec(entry.get(theirs))
        if d is not None and d > 0:
            units[ours] = d
    search = entry.get("search_context_cost_per_query")
    if isinstance(search, dict):
        d = dec(search.get("search_context_size_medium"))
        if d is not None and d > 0:
            units["per_web_search"] = d
    return units


def convert(key: str, entry: dict) -> dict | None:
    base = token_prices(entry)
    # tiered_pricing with no flat price: the first band is the base.
    bands = entry.get("tiered_pricing") or []
    if "input" not in base and bands and bands[0].get("range", [None])[0] == 0:
        base = token_prices(bands[0])
    base = clean_prices(base)
    if "input" in base and "output" not in base:
        if entry.get("mode") in ("embedding", "rerank", "moderation"):
            base["output"] = Decimal(0)
        else:
            base = {}  # half a price is no price
    if "output" in base and "input" not in base:
        base = {}
    out = {}
    if entry.get("mode"):
        out["mode"] = entry["mode"]
    if base:
        for f in FIELD_ORDER:
            if f in base:
                out[f] = base[f]
        tiers = []
        for above, t in tiers_of(entry, base):
            t = clean_prices(t)
            tiers.append({"above_prompt_tokens": above, **{f: t[f] for f in FIELD_ORDER if f in t}})
        if tiers:
            out["tiers"] = tiers
    units = units_of(entry)
    if units:
        out["units"] = units
    if not base and not units:
        return None
    mo = entry.get("max_output_tokens")
    if isinstance(mo, int) and not isinstance(mo, bool) and mo > 0:
        out["max_output_tokens"] = mo
    return out


def model_id(key: str, provider: str) -> str | None:
    prefixes = KEY_PREFIXES.get(provider, []) + [provider + "/"]
    for p in prefixes:
        if key.startswith(p):
            key = key[len(p):]
            break
    if provider in ("azure", "azure_text") and AZURE_REGION.match(key):
        return None
    if BUCKET_KEY.match(key):
        return None
    return key


def load_source(path: str) -> dict:
    if path.endswith(".whl") or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            with z.open(WHEEL_MEMBER) as f:
                return json.load(io.TextIOWrapper(f, encoding="utf-8"))
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def same_base(a: dict, b: dict) -> bool:
    return all(to_per_million(a.get(f)) == to_per_million(b.get(f)) for f in (
        "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
        "cache_creation_input_token_cost"))


def has_tiers(entry: dict) -> bool:
    return any(TIER_RE.match(k) for k in entry)


def build(src: dict) -> list:
    entries = {k: v for k, v in src.items() if isinstance(v, dict) and k != "sample_spec"}
    # resolve alias_of (LiteLLM's convenience names) to their target's prices
    for k, v in list(entries.items()):
        if "alias_of" in v:
            target = entries.get(v["alias_of"])
            if target is None or "alias_of" in target:
                del entries[k]
                continue
            entries[k] = dict(target)

    # Anthropic first-party entries miss long-context tiers recorded for Vertex AI.
    for k, v in entries.items():
        if v.get("litellm_provider") != "anthropic" or has_tiers(v):
            continue
        vx = entries.get("vertex_ai/" + re.sub(r"-(\d{8})$", r"@\1", k))
        if vx and vx.get("litellm_provider") == "vertex_ai-anthropic_models" and has_tiers(vx) \
                and same_base(v, vx):
            v = dict(v)
            for f, val in vx.items():
                if TIER_RE.match(f) and not f.endswith(("_batches", "_flex", "_priority")):
                    v[f] = val
            entries[k] = v
            stats["vertex_tiers_copied"] += 1

    rows = {}
    prefixed = {}
    for key, entry in entries.items():
        lp = entry.get("litellm_provider")
        slug = PROVIDER_MAP.get(lp)
        if slug is None:
            continue
        model = model_id(key, lp)
        if not model:
            continue
        row = convert(key, entry)
        if row is None:
            continue
        ident = (slug, model)
        is_prefixed = key != model
        if ident in rows:
            if rows[ident] != row:
                stats["conflicts"] += 1
                print(f"conflict {slug}/{model}: keeping "
                      f"{'prefixed' if is_prefixed or prefixed[ident] else 'first'} entry",
                      file=sys.stderr)
                if is_prefixed and not prefixed[ident]:
                    rows[ident], prefixed[ident] = row, True
            continue
        rows[ident], prefixed[ident] = row, is_prefixed
    out = []
    for (slug, model) in sorted(rows):
        out.append({"provider": slug, "model": model, **rows[(slug, model)]})
    return out


def dumps(v) -> str:
    """Compact JSON with prices written as plain decimals."""
    if isinstance(v, Decimal):
        return num(v)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    return json.dumps(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="litellm wheel or model_prices_and_context_window.json")
    ap.add_argument("--version", required=True, help="litellm package version the source came from")
    ap.add_argument("--date", default=dt.date.today().isoformat(), help="import date (YYYY-MM-DD)")
    ap.add_argument("--out", default="crates/pricing/data/prices.json")
    args = ap.parse_args()

    rows = build(load_source(args.source))
    providers = sorted({r["provider"] for r in rows})
    meta = {
        "source": "LiteLLM model_prices_and_context_window.json "
                  f"(PyPI litellm {args.version}, {WHEEL_MEMBER})",
        "source_version": args.version,
        "license": "MIT, Copyright (c) 2023 Berri AI",
        "imported": args.date,
        "units": "token prices: USD per 1M tokens; per_* units: USD per unit",
        "generator": "crates/pricing/tools/import_litellm.py",
        "model_count": len(rows),
        "provider_count": len(providers),
    }
    lines = ['{"meta":' + json.dumps(meta, separators=(",", ":")) + ",", '"models":[']
    body = [dumps(r) for r in rows]
    lines.append(",\n".join(body))
    lines.append("]}")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    per = {p: sum(1 for r in rows if r["provider"] == p) for p in providers}
    print(f"wrote {len(rows)} models for {len(providers)} providers to {args.out}", file=sys.stderr)
    print(json.dumps(per), file=sys.stderr)
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
