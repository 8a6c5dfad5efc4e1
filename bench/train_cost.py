"""CPU cost per training example: ragloop's LoRA loop vs TRL's SFTTrainer, same rows, same
LoRA (``[train]`` defaults: r=16 on the top 8 layers' attention and MLP projections), same
base (SmolLM2-135M dequantised), batch 4 by gradient accumulation, one torch thread.

CPU-seconds (``time.process_time``) are reported besides wall time: the machine is shared,
so wall time is contention. Writes ``bench/results/train_cost.json``.

    python -m bench.train_cost ROWS.jsonl [--n 16]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.harness import Bench, Timer
from ragloop.config import TrainSettings
from ragloop.models.llamacpp import default_model_path
from ragloop.train.base import load_base, prepare_base
from ragloop.train.loop import train_lora
from ragloop.train.rows import load_rows


def measure(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``fn()``."""
    with Timer(cpu=True) as timer:
        fn()
    return timer.cpu_seconds, timer.seconds


def options(parser) -> None:
    parser.add_argument("rows", type=Path, help="SFT rows (ragloop train data ...)")
    parser.add_argument("--n", type=int, default=16)


def main(argv=None) -> None:
    bench = Bench("train_cost", __doc__, argv, extra=options, quick_help="4 rows (one step)")
    args = bench.args
    if args.quick:
        args.n = 4

    import torch

    torch.set_num_threads(1)
    rows = load_rows(args.rows, "sft")[:args.n]
    settings = TrainSettings(max_steps=len(rows) // 4, batch_size=4, threads=1)
    base = prepare_base(default_model_path(), args.out / "base")
    model, tokenizer = load_base(base)
    lengths = [len(tokenizer.apply_chat_template(r.prompt + r.completion, tokenize=False))
               for r in rows]
    with tempfile.TemporaryDirectory(dir=args.out) as work:
        ours = measure(lambda: train_lora(model, tokenizer, rows, "sft", settings,
                                          work_dir=Path(work), fingerprint="cost",
                                          restart=True))
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load_base(base)
    n_layers = model.config.num_hidden_layers
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                      target_modules=list(settings.target_modules), task_type="CAUSAL_LM",
                      layers_to_transform=list(range(n_layers - settings.lora_layers,
                                                     n_layers)))
    data = Dataset.from_list([{"prompt": r.prompt, "completion": r.completion} for r in rows])
    with tempfile.TemporaryDirectory(dir=args.out) as work:
        config = SFTConfig(output_dir=work, per_device_train_batch_size=1,
                           gradient_accumulation_steps=4, max_steps=len(rows) // 4,
                           learning_rate=settings.learning_rate, use_cpu=True, report_to=[],
                           save_strategy="no", logging_steps=1, max_length=2048, seed=0,
                           dataloader_num_workers=0)
        trainer = SFTTrainer(model=model, args=config, train_dataset=data,
                             processing_class=tokenizer, peft_config=lora)
        trl = measure(trainer.train)
    examples = settings.max_steps * 4
    result = {"examples": examples, "mean_chars": sum(lengths) / len(lengths),
              "ragloop_loop": {"cpu_s_per_example": ours[0] / examples,
                               "wall_s_per_example": ours[1] / examples},
              "trl_sft_trainer": {"cpu_s_per_example": trl[0] / examples,
                                  "wall_s_per_example": trl[1] / examples},
              "torch_threads": 1}
    bench.write(result)
    print("| trainer | CPU-s / example | wall s / example |\n|---|---|---|")
    for name in ("ragloop_loop", "trl_sft_trainer"):
        print(f"| {name} | {result[name]['cpu_s_per_example']:.2f} | "
              f"{result[name]['wall_s_per_example']:.2f} |")


if __name__ == "__main__":
    main()
