"""Carry a verifier training run to a machine that has torch but not this project's data, the
base encoder's package or the article tools, and bring its result back into the artifact.

    python -m opslens.training.verifier_bundle pack --pairs runs/verifier/pairs.npz --out .gpu
        the pairs file, and the base encoder's weights trimmed for the trip: no pooler (the
        verifier does not use it); only the embedding rows of tokens the pairs contain (LoRA
        leaves embeddings frozen, so a row no training token looks up never matters), in fp16;
        the transformer blocks' matrices in bf16, which is what bf16 autocast multiplies with
        anyway, the rest in fp16; even and odd bytes xz-compressed apart (a 16-bit float's high
        byte compresses well, its low byte hardly), so the tree and the bundle stay < 60 MB.
    python -m opslens.training.verifier_bundle unpack-base .gpu/base /tmp/base
        (there) a loadable base folder: float32, unused embedding rows zero, and the identity
        (package version, sha256) of the files it was cut from, which the trainer records.
    python -m opslens.training.verifier_bundle train verifier --config FILE [flags]
        (there) `opslens train` without the rest of the CLI (the server's dependencies).
    python -m opslens.training.verifier_bundle install DIR [--artifact FOLDER] [--artifact-version V]
        (here) checks the returned verifier.safetensors/verifier.json (hash, base, shapes), writes
        them into the artifact (manifest, hashes, model card) and runs a smoke check.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load, load_file, save, save_file

from opslens.model.artifact import (
    MANIFEST,
    SHIPPED_ARTIFACT,
    ArtifactError,
    init_artifact,
    load_component_state,
    read_component_meta,
    read_manifest,
    save_component_state,
)
from opslens.model.card import write_card
from opslens.model.encoder import encoder_path
from opslens.model.lora import BASE_RECORD, base_identity
from opslens.model.verifier import COMPONENT, VerifierConfig, VerifierNet
from opslens.training.verifier_pairs import load_pairs

WEIGHTS = "weights.safetensors"  # travels as two xz files, its even and odd bytes
EMBEDDINGS = "embeddings.word_embeddings.weight"
ROWS = "opslens.token_ids"  # the embedding rows kept, in order
SMALL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)
MAX_ARTIFACT_MB = 30.0  # per artifact version, in the repository


def _to_planes(data: bytes, dest: Path) -> None:
    data += b"\0" * (len(data) % 2)
    (dest / f"{WEIGHTS}.even.xz").write_bytes(lzma.compress(data[0::2], preset=6))
    (dest / f"{WEIGHTS}.odd.xz").write_bytes(lzma.compress(data[1::2], preset=6))


def _from_planes(src: Path) -> bytes:
    even = lzma.decompress((src / f"{WEIGHTS}.even.xz").read_bytes())
    odd = lzma.decompress((src / f"{WEIGHTS}.odd.xz").read_bytes())
    out = bytearray(len(even) + len(odd))
    out[0::2], out[1::2] = even, odd
    return bytes(out)


def _travel_dtype(name: str, tensor: torch.Tensor) -> torch.dtype:
    return (
        torch.bfloat16
        if ".layer." in name and name.endswith(".weight") and tensor.dim() == 2
        else torch.float16
    )


def pack_base(token_ids: np.ndarray, dest: Path, special_ids: list[int]) -> dict:
    src = encoder_path()
    state = load_file(str(src / "model.safetensors"))
    rows = torch.from_numpy(np.union1d(np.unique(token_ids), special_ids).astype(np.int64))
    out = {k: v.to(_travel_dtype(k, v)).contiguous() for k, v in state.items() if not k.startswith("pooler.")}
    out[EMBEDDINGS] = state[EMBEDDINGS][rows].half().contiguous()
    out[ROWS] = rows.to(torch.int32)
    dest.mkdir(parents=True, exist_ok=True)
    _to_planes(save(out), dest)
    for name in SMALL_FILES:
        shutil.copy2(src / name, dest / name)
    version_, sha = base_identity(src)
    record = {
        "package_version": version_,
        "sha256": sha,
        "vocab_size": int(state[EMBEDDINGS].shape[0]),
        "rows_kept": len(rows),
    }
    (dest / BASE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def unpack_base(src: Path, dest: Path) -> None:
    state = load(_from_planes(src))
    record = json.loads((src / BASE_RECORD).read_text(encoding="utf-8"))
    rows = state.pop(ROWS).long()
    kept = state.pop(EMBEDDINGS)
    full = torch.zeros(record["vocab_size"], kept.shape[1])
    full[rows] = kept.float()
    out = {k: v.float().contiguous() for k, v in state.items()} | {EMBEDDINGS: full}
    dest.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dest / "model.safetensors"), metadata={"format": "pt"})
    for name in (*SMALL_FILES, BASE_RECORD):
        shutil.copy2(src / name, dest / name)


def pack(pairs_path: Path, out: Path) -> None:
    from transformers import AutoTokenizer

    pairs = load_pairs(pairs_path)
    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    specials = [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id, tok.mask_token_id]
    record = pack_base(pairs.tokens, out / "base", specials)
    out.mkdir(parents=True, exist_ok=True)
    if pairs_path.resolve() != (out / "verifier_pairs.npz").resolve():  # built in place already
        shutil.copy2(pairs_path, out / "verifier_pairs.npz")
    print(json.dumps({"base": record, "pairs": len(pairs), "counts": pairs.counts()}, indent=1))


def _artifact_mb(folder: Path, replacing: str) -> float:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(f"{replacing}.")]
    return sum(p.stat().st_size for p in files) / 2**20


def install(returned: Path, artifact: Path, artifact_version: str | None) -> None:
    """Check the returned component and write it into `artifact` the way a trainer would."""
    state, config = load_component_state(returned, COMPONENT, VerifierConfig)  # checks its sha256
    training = read_component_meta(returned, COMPONENT)["training"]
    _, installed = base_identity()
    if installed != config.base_sha256:
        raise ArtifactError(f"trained on base {config.base_sha256[:12]}, installed base is {installed[:12]}")
    VerifierNet(config).load_trained_state(state)  # every adapter and head tensor fits the config
    added = (returned / f"{COMPONENT}.safetensors").stat().st_size / 2**20
    if artifact.is_dir() and _artifact_mb(artifact, COMPONENT) + added > MAX_ARTIFACT_MB:
        raise ArtifactError(
            f"{artifact} would exceed {MAX_ARTIFACT_MB} MB with the verifier ({added:.1f} MB)"
        )
    init_artifact(artifact, "opslens-v1", artifact_version or "1.0.0")
    save_component_state(artifact, COMPONENT, state, config, training)
    if artifact_version:
        manifest = read_manifest(artifact)
        manifest.version = artifact_version
        (artifact / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    write_card(artifact)
    total = _artifact_mb(artifact, "")
    print(f"installed {COMPONENT} into {artifact} ({added:.1f} MB; the artifact is now {total:.1f} MB)")
    _smoke(artifact)


def _smoke(artifact: Path) -> None:
    """Print what the installed verifier says on three claims against one short article."""
    from opslens.model.encoder import SentenceEncoder
    from opslens.model.verifier import ClaimVerifier

    sentences = [
        "Russian forces suffered heavy losses in recent weeks around Bakhmut and Vuhledar.",
        "Ukraine's military said its troops were holding their positions in the east.",
        "The fighting has continued for more than six months.",
    ]
    claims = [
        sentences[0],
        "Ukrainian forces suffered heavy losses around Bakhmut.",
        "Ukraine has retaken Bakhmut.",
    ]
    verifier = ClaimVerifier.load(artifact, SentenceEncoder())
    for claim, check in zip(claims, verifier.verify(claims, sentences), strict=True):
        print(f"  {check.verdict:>12} {check.probabilities[check.verdict]:.2f}  {claim}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        from opslens.training.cli import add_parser

        parser = argparse.ArgumentParser(prog="opslens")
        add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        return args.func(args)
    parser = argparse.ArgumentParser(prog="python -m opslens.training.verifier_bundle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--pairs", type=Path, default=Path("runs/verifier/pairs.npz"))
    p.add_argument("--out", type=Path, default=Path(".gpu"))
    p = sub.add_parser("unpack-base")
    p.add_argument("src", type=Path)
    p.add_argument("dest", type=Path)
    p = sub.add_parser("install")
    p.add_argument("returned", type=Path, help="folder with verifier.safetensors and verifier.json")
    p.add_argument("--artifact", type=Path, default=SHIPPED_ARTIFACT)
    p.add_argument(
        "--artifact-version", help="set the manifest's version (adding a component is a minor bump)"
    )
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.pairs, args.out)
    elif args.command == "unpack-base":
        unpack_base(args.src, args.dest)
    else:
        install(args.returned, args.artifact, args.artifact_version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
