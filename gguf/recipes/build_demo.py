"""Build the logos-tools demo model: packaged real data -> tokenizer -> training -> GGUF -> quality.

    python gguf/recipes/build_demo.py                  # full build into gguf/demo (about 10 min, 2 cores)
    python gguf/recipes/build_demo.py --smoke --out /tmp/demo-smoke   # whole pipeline, ~1 min

The full build writes ``gguf/demo/hf/`` (the HF checkpoint), ``gguf/demo/logos-demo-f16.gguf`` and
``gguf/demo/logos-demo-q8_0.gguf`` and fills the demo entry of ``gguf/manifest.toml``. The smoke build
writes the same files into ``--out`` and never touches the shipped ones. Both are deterministic on a
given machine (seeded, fixed thread count, deterministic torch kernels). See README.md here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# Set before torch loads OpenMP: with busy-waiting workers, two threads on a shared, oversubscribed
# machine run many times slower. Passive waiting changes no result, only how idle threads wait.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RECIPE_VERSION = 1
SEED = 1234
VOCAB_SIZE = 1024
FULL_STEPS = 1400
SMOKE_STEPS = 30
REPO = Path(__file__).resolve().parents[2]
SHIPPED_DEMO = REPO / "gguf" / "demo"
MANIFEST = REPO / "gguf" / "manifest.toml"
# A full build runs here (git-ignored) and is copied into gguf/demo only once every stage passed.
WORK = REPO / "gguf" / "work" / "demo-build"
F16_NAME = "logos-demo-f16.gguf"
Q8_NAME = "logos-demo-q8_0.gguf"
# Documents the tokenizer is trained on: each unique text once, and no protein crop or repeat
# (repeats of a dozen real chains would otherwise turn whole stretches of them into tokens).
_TOKENIZER_SKIPS = {"binding_site", "pocket_expansion", "ligand_design_real", "ligand_design_format"}

logger = logging.getLogger("build_demo")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny data and a few dozen steps (CI check)")
    parser.add_argument("--out", type=Path, help="output folder (default: gguf/demo for a full build)")
    parser.add_argument("--steps", type=int, help="training steps (default: 1400 full, 30 smoke)")
    parser.add_argument("--record", type=Path, help="write the build record (JSON) to this file")
    parser.add_argument("--no-manifest", action="store_true", help="do not update gguf/manifest.toml")
    parser.add_argument("--no-quality", action="store_true", help="skip the quality measurements")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.out is None:
        if args.smoke:
            parser.error("--smoke needs --out DIR: a smoke build never writes the shipped files")
        args.out = SHIPPED_DEMO
    if args.smoke and args.out.resolve() == SHIPPED_DEMO.resolve():
        parser.error(f"--smoke must not write into {SHIPPED_DEMO}; pass another --out")
    return args


def build(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Run every stage, writing into ``out``, and return the build record."""
    import demo_corpus
    import demo_quality
    import demo_sources
    import demo_tokenizer
    import demo_training

    from logos_tools.grammar.profile import load_profile
    from logos_tools.models.convert import convert_checkpoint
    from logos_tools.models.quantize import quantize_gguf

    started = time.perf_counter()
    timings: dict[str, float] = {}
    profile = load_profile("logos-v1")
    hf_dir = out / "hf"
    out.mkdir(parents=True, exist_ok=True)

    mark = time.perf_counter()
    mix = demo_corpus.SMOKE_MIX if args.smoke else demo_corpus.FULL_MIX
    corpus = demo_corpus.build_corpus(profile, mix, args.seed)
    timings["data_s"] = round(time.perf_counter() - mark, 1)
    logger.info("corpus: %s", corpus.task_counts())

    mark = time.perf_counter()
    tokenizer_texts = sorted({e.text for e in corpus.train if e.task not in _TOKENIZER_SKIPS})
    tokenizer = demo_tokenizer.train_tokenizer(tokenizer_texts, profile, VOCAB_SIZE)
    demo_tokenizer.save_tokenizer(tokenizer, profile, hf_dir)
    bos, eos, pad = (
        demo_tokenizer.token_id(tokenizer, t)
        for t in (demo_tokenizer.BOS, demo_tokenizer.EOS, demo_tokenizer.PAD)
    )
    rows = [[*encoding.ids, eos] for encoding in tokenizer.encode_batch([e.text for e in corpus.train])]
    validation_texts = [profile.wrap("molecule", s) for s in corpus.held_out_molecules]
    validation = [[*encoding.ids, eos] for encoding in tokenizer.encode_batch(validation_texts)]
    timings["tokenizer_s"] = round(time.perf_counter() - mark, 1)

    shape = demo_training.ModelShape()
    steps = args.steps or (SMOKE_STEPS if args.smoke else FULL_STEPS)
    plan = demo_training.TrainPlan(
        steps=steps,
        tokens_per_batch=2048 if args.smoke else 4096,
        warmup_steps=min(100, max(1, steps // 10)),
        seed=args.seed,
    )
    config = demo_training.llama_config(shape, tokenizer.get_vocab_size(), bos, eos, pad)

    def progress(step: int, loss: float) -> None:
        if step % 100 == 0 or step == steps - 1:
            logger.info("step %d/%d  loss %.3f  %.0f s", step + 1, steps, loss, time.perf_counter() - started)

    model, report = demo_training.train(rows, validation, config, plan, pad, progress)
    demo_training.save_checkpoint(model, hf_dir, bos, eos, pad)
    timings["train_s"] = report.seconds

    mark = time.perf_counter()
    f16 = out / F16_NAME
    q8 = out / Q8_NAME
    conversion = convert_checkpoint(hf_dir, f16, out_type="f16", tag_token_type="user_defined", is_demo=True)
    quantization = quantize_gguf(f16, q8, "Q8_0", nthread=2)
    timings["convert_quantize_s"] = round(time.perf_counter() - mark, 1)

    mark = time.perf_counter()
    verification = {"f16": _verify(f16, hf_dir), "q8_0": _verify(q8, hf_dir)}
    tag_ids = demo_quality.tags_are_single_tokens(f16, profile)
    q8_sample = demo_quality.generate_once(q8, profile, args.seed)
    logger.info("q8_0 generates: %r", q8_sample)
    budget = demo_quality.SMOKE_BUDGET if args.smoke else demo_quality.FULL_BUDGET
    quality: dict[str, Any] = {}
    if not args.no_quality:
        quality = demo_quality.measure(
            f16, corpus, profile, budget, args.seed, lambda n: logger.info("quality: %s", n)
        )
        quality["q8_0_molecules_t1.2"] = _q8_validity(q8, corpus, profile, budget, args.seed)
    timings["quality_s"] = round(time.perf_counter() - mark, 1)
    timings["total_s"] = round(time.perf_counter() - started, 1)

    files = {
        path.relative_to(out).as_posix(): {"sha256": _sha256(path), "size": path.stat().st_size}
        for path in sorted([f16, q8, *hf_dir.iterdir()])
        if path.is_file()
    }
    record: dict[str, Any] = {
        "recipe_version": RECIPE_VERSION,
        "seed": args.seed,
        "smoke": bool(args.smoke),
        "output": str(args.out),
        "files": files,
        "data": {**corpus.stats, "documents": corpus.task_counts(), "tokens": sum(len(r) for r in rows)},
        "tokenizer": {"vocab_size": tokenizer.get_vocab_size(), "tag_ids": tag_ids},
        "model": demo_training.describe(shape, plan),
        "training": vars(report),
        "conversion": {"f16_bytes": conversion.file_size, "q8_0_bytes": quantization.output_size},
        "verification": verification,
        "q8_0_sample": q8_sample,
        "quality": quality,
        "timings": timings,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "environment": demo_sources.environment_summary(),
    }
    return record


def _verify(path: Path, hf_dir: Path) -> dict[str, Any]:
    """The project's GGUF verification against the HF checkpoint; a failed check stops the build."""
    from logos_tools.models.verify import verify_gguf

    report = verify_gguf(path, hf_dir)
    if not report.passed:
        failed = [check.detail for check in report.checks if check.passed is False]
        raise RuntimeError(f"{path.name} fails verification: {failed}")
    return {check.name: check.detail for check in report.checks}


def _q8_validity(q8: Path, corpus: Any, profile: Any, budget: Any, seed: int) -> dict[str, Any]:
    import demo_quality

    from logos_tools.models.native import open_llama

    llm = open_llama(q8, n_ctx=512, n_threads=2, seed=seed)
    try:
        sampler = demo_quality.Sampler(llm, profile, seed)
        return demo_quality.molecule_quality(sampler, corpus, budget.molecules, demo_quality.REFERENCE)
    finally:
        llm.close()


def _publish(work: Path, target: Path) -> None:
    """Replace the shipped demo files with a finished build's (the HF folder is replaced whole)."""
    shutil.rmtree(target / "hf", ignore_errors=True)
    shutil.copytree(work / "hf", target / "hf")
    for name in (F16_NAME, Q8_NAME):
        shutil.copyfile(work / name, target / name)
    logger.info("published the demo model into %s", target)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("logos_tools").setLevel(logging.WARNING)
    if args.out.resolve() == SHIPPED_DEMO.resolve():
        shutil.rmtree(WORK, ignore_errors=True)
        record = build(args, WORK)
        _publish(WORK, SHIPPED_DEMO)
    else:
        record = build(args, args.out)
    if not args.smoke and not args.no_manifest:
        import demo_manifest

        demo_manifest.write_demo_entry(MANIFEST, record)
    text = json.dumps(record, indent=2, sort_keys=True)
    if args.record is not None:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
