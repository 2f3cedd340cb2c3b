#!/usr/bin/env python3
"""PyTorch side of `mopeft bench --torch`: the official SAM image encoder, timed on the CPU or a GPU.

Builds the official `ImageEncoderViT` (imported from --sam-repo, a checkout of
facebookresearch/segment-anything; nothing of it lives in this repository) with the given sizes and
PyTorch's default initialisation (values do not matter for time), and times, after warm-up:

- forward: the encoder forward pass under torch.no_grad();
- forwardBackwardFrozen: forward + backward with the parameters frozen and the input requiring a
  gradient, so activation gradients flow through every block (what PEFT training pays for);
- forwardBackwardFull: forward + backward with every parameter trainable (full fine-tuning);
- loraStep (with --lora-step): a whole training step as `mopeft bench` times its `lora` method:
  the official encoder with LoRA of rank --lora-rank on the q and v parts of every block's qkv
  projection (the rest frozen), the official prompt encoder (frozen, no prompts) and mask decoder
  with one mask token per class (trained), the logits upsampled bilinearly to the input size,
  0.2 cross-entropy + 0.8 softmax Dice against random labels, backward, and an Adam update.

The loss of the forward+backward passes is the mean square of the embedding. With --device cuda
the model and its input live on the GPU and every timing waits for the GPU's queue to drain before
and after the run (CUDA work is asynchronous: without that the clock would stop while kernels
still run). Prints one JSON object on stdout:

    /usr/bin/python3 scripts/bench_torch.py --sam-repo /tmp/segment-anything --embed-dim 768 \
        --depth 12 --heads 12 --window 14 --global 2,5,8,11 --out-chans 256 --image-size 1024 \
        --batch 1 --runs 3 --warmup 1 --threads 2 [--lora-step --classes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from functools import partial

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import import_official  # noqa: E402


def summarise(samples_s):
    ms = [s * 1000 for s in samples_s]
    ordered = sorted(ms)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    r = lambda v: round(v, 1)  # noqa: E731
    return {"minMs": r(ordered[0]), "medianMs": r(median), "maxMs": r(ordered[-1]),
            "samplesMs": [r(v) for v in ms]}


def timed(run, runs, warmup, progress, sync):
    samples = []
    for i in range(warmup + runs):
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        elapsed = time.perf_counter() - t0
        if i >= warmup:
            samples.append(elapsed)
        kind = f"warm-up {i + 1}/{warmup}" if i < warmup else f"run {i - warmup + 1}/{runs}"
        print(f"torch {progress} {kind}: {elapsed:.2f} s", file=sys.stderr, flush=True)
    return summarise(samples)


def peak_rss_mib():
    # VmHWM belongs to this process's own memory; ru_maxrss would carry the parent's peak
    # (getrusage(2): resource usages are preserved across execve).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # kB on Linux


def reset_peak_rss():
    """Starts VmHWM afresh from the current RSS (Linux 4.0+: "5" to clear_refs); False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class LoraQkv(torch.nn.Module):
    """The official fused qkv Linear, with rank-r updates added to its q and v thirds."""

    def __init__(self, qkv: torch.nn.Linear, rank: int, scale: float):
        super().__init__()
        self.qkv = qkv
        dim = qkv.in_features
        self.query_a = torch.nn.Linear(dim, rank, bias=False)
        self.query_b = torch.nn.Linear(rank, dim, bias=False)
        self.value_a = torch.nn.Linear(dim, rank, bias=False)
        self.value_b = torch.nn.Linear(rank, dim, bias=False)
        # As mopeft: B starts at zero, so the model starts unchanged.
        torch.nn.init.zeros_(self.query_b.weight)
        torch.nn.init.zeros_(self.value_b.weight)
        self.scale = scale

    def forward(self, x):
        query, key, value = self.qkv(x).chunk(3, dim=-1)
        query = query + self.scale * self.query_b(self.query_a(x))
        value = value + self.scale * self.value_b(self.value_a(x))
        return torch.cat([query, key, value], dim=-1)


def segmentation_loss(logits, labels, classes, ce_weight=0.2, dice_weight=0.8, smooth=1e-5):
    """mopeft's loss (lib/train/loss.ts) with nothing ignored: CE + softmax Dice over the batch."""
    full = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear",
                                           align_corners=False)
    cross_entropy = torch.nn.functional.cross_entropy(full, labels)
    probabilities = full.softmax(dim=1)
    target = torch.nn.functional.one_hot(labels, classes).permute(0, 3, 1, 2).float()
    dims = (0, 2, 3)
    intersection = (probabilities * target).sum(dims)
    dice = 1 - (2 * intersection + smooth) / (probabilities.square().sum(dims) + target.sum(dims) + smooth)
    return ce_weight * cross_entropy + dice_weight * dice.mean()


def lora_step(encoder, args, images, device, sync, progress_label="LoRA training step"):
    """Times whole LoRA training steps; `encoder` gains LoRA modules (its own weights frozen)."""
    from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer

    embed = args.out_chans
    grid = args.image_size // 16
    prompt_encoder = PromptEncoder(embed_dim=embed, image_embedding_size=(grid, grid),
                                   input_image_size=(args.image_size, args.image_size),
                                   mask_in_chans=16)
    mask_decoder = MaskDecoder(
        num_multimask_outputs=args.classes - 1,  # one mask token per class
        transformer=TwoWayTransformer(depth=2, embedding_dim=embed, mlp_dim=2048, num_heads=8),
        transformer_dim=embed, iou_head_depth=3, iou_head_hidden_dim=256)
    for p in list(encoder.parameters()) + list(prompt_encoder.parameters()):
        p.requires_grad_(False)
    prompt_encoder.to(device)
    mask_decoder.to(device)
    for block in encoder.blocks:
        block.attn.qkv = LoraQkv(block.attn.qkv, args.lora_rank, 1.0).to(device)
    trainable = [p for p in encoder.parameters() if p.requires_grad] + list(mask_decoder.parameters())
    optimiser = torch.optim.Adam(trainable, lr=1e-4, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(args.seed + 1)
    labels = torch.randint(0, args.classes, (args.batch, args.image_size, args.image_size),
                           generator=generator).to(device)
    encoder.train()
    mask_decoder.train()

    def run():
        optimiser.zero_grad(set_to_none=True)
        embeddings = encoder(images)
        # As SAMed: the prompt encoder without prompts gives one batch entry, broadcast over images.
        sparse, dense = prompt_encoder(points=None, boxes=None, masks=None)
        logits, _ = mask_decoder.predict_masks(embeddings, prompt_encoder.get_dense_pe(), sparse, dense)
        segmentation_loss(logits, labels, args.classes).backward()
        optimiser.step()

    return timed(run, args.runs, args.warmup, progress_label, sync), sum(p.numel() for p in trainable)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sam-repo", required=True)
    ap.add_argument("--embed-dim", type=int, required=True)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--window", type=int, required=True)
    ap.add_argument("--global", dest="global_blocks", default="", help="comma-separated block indexes")
    ap.add_argument("--out-chans", type=int, required=True)
    ap.add_argument("--image-size", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--backward", default="frozen,full",
                    help="which forward+backward passes to time: frozen, full, both (frozen,full) or none")
    ap.add_argument("--lora-step", action="store_true",
                    help="also time a whole LoRA training step (encoder with LoRA, decoder, loss, Adam)")
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--classes", type=int, default=2, help="classes of the semantic decoder (at least 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where the encoder and its input live (cuda: the first GPU)")
    args = ap.parse_args(argv)
    backward = {b for b in args.backward.split(",") if b and b != "none"}
    if not backward <= {"frozen", "full"}:
        ap.error(f"--backward: unknown pass in {args.backward!r}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device cuda: torch {torch.__version__} sees no CUDA device")
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    if args.classes < 2:
        ap.error("--classes must be at least 2")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import_official(args.sam_repo)
    from segment_anything.modeling import ImageEncoderViT

    encoder = ImageEncoderViT(
        img_size=args.image_size,
        patch_size=16,
        embed_dim=args.embed_dim,
        depth=args.depth,
        num_heads=args.heads,
        mlp_ratio=4,
        out_chans=args.out_chans,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=args.window,
        global_attn_indexes=tuple(int(b) for b in args.global_blocks.split(",") if b),
    ).to(device)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size).to(device)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "imageSize": args.image_size,
        "batch": args.batch,
        "runs": args.runs,
        "warmup": args.warmup,
        "parameters": sum(p.numel() for p in encoder.parameters()),
        "device": torch.cuda.get_device_name(device) if args.device == "cuda" else "cpu",
    }

    # The peak of the timed passes alone: a small run's process peak is its start's (importing torch,
    # building the model), which says nothing of its activations (`bench`'s memory estimate).
    setup_peak = peak_rss_mib()
    run_peak_known = reset_peak_rss()

    encoder.eval()

    def forward():
        with torch.no_grad():
            encoder(images)

    report["forward"] = timed(forward, args.runs, args.warmup, "forward", sync)

    def forward_backward(trainable_params: bool):
        for p in encoder.parameters():
            p.requires_grad_(trainable_params)

        def run():
            encoder.zero_grad(set_to_none=True)
            x = images.clone().requires_grad_(not trainable_params)
            out = encoder(x)
            out.square().mean().backward()

        return run

    encoder.train()
    report["forwardBackwardFrozen"] = (
        timed(forward_backward(False), args.runs, args.warmup, "forward+backward (frozen)", sync)
        if "frozen" in backward else None)
    report["forwardBackwardFull"] = (
        timed(forward_backward(True), args.runs, args.warmup, "forward+backward (full)", sync)
        if "full" in backward else None)
    # Last: it adds LoRA modules to the encoder.
    report["loraStep"], report["loraStepTrainableValues"] = (
        lora_step(encoder, args, images, device, sync) if args.lora_step else (None, None))
    report["peakRssMiB"] = max(setup_peak, peak_rss_mib())
    report["runPeakRssMiB"] = peak_rss_mib() if run_peak_known else None
    report["peakCudaMiB"] = (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                             if args.device == "cuda" else None)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
