#!/usr/bin/env python3
"""By-hand full-size reference (not run in tests).

Builds an official SAM (vit_b by default) with seeded random weights in the official layout,
saves them as a PyTorch checkpoint (`<model>_random.pth`, torch.save of the state dict, the
container format of the released sam_vit_*.pth) and as `<model>_random.safetensors`, makes (or
takes) a test image, runs the official preprocessing and image encoder on 2 threads, writes
`embedding.safetensors`, and prints timings as JSON.

    /usr/bin/python3 scripts/fullsize_reference.py --sam-repo /tmp/segment-anything --out /tmp/fullsize

The official code is imported from --sam-repo; nothing of it lives in this repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import (  # noqa: E402
    export_state_dict,
    import_official,
    make_image,
    randomize_,
    read_safetensors,
    write_safetensors,
)

ENCODERS = {
    "vit_b": dict(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=12,
                  global_attn_indexes=(2, 5, 8, 11)),
    "vit_l": dict(encoder_embed_dim=1024, encoder_depth=24, encoder_num_heads=16,
                  global_attn_indexes=(5, 11, 17, 23)),
    "vit_h": dict(encoder_embed_dim=1280, encoder_depth=32, encoder_num_heads=16,
                  global_attn_indexes=(7, 15, 23, 31)),
}


def blas_info() -> str:
    cfg = torch.__config__.show()
    libs = []
    try:
        with open(f"/proc/{os.getpid()}/maps") as f:
            for line in f:
                if "blas" in line.lower() or "lapack" in line.lower():
                    path = line.split()[-1]
                    if path not in libs:
                        libs.append(path)
    except OSError:
        pass
    blas = [l for l in cfg.splitlines() if "BLAS_INFO" in l]
    return json.dumps({"build": blas[0].strip()[:120] if blas else "?", "loaded": libs})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sam-repo", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="vit_b", choices=sorted(ENCODERS))
    ap.add_argument("--image", default="", help="PNG/JPEG to use (default: a generated 1200x900 image)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backward", action="store_true", help="also time forward+backward of the encoder")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    off, resize_backend = import_official(args.sam_repo)
    os.makedirs(args.out, exist_ok=True)
    timings = {}

    # ---- official build with random weights ----
    torch.manual_seed(args.seed)
    sam = off.sam_model_registry[args.model]()  # official constructor, 1024 input, 256 channels
    randomize_(sam, off, torch.Generator().manual_seed(args.seed + 1))
    sd = export_state_dict(sam)
    pth = os.path.join(args.out, f"{args.model}_random.pth")
    st = os.path.join(args.out, f"{args.model}_random.safetensors")
    torch.save(sd, pth)
    enc = ENCODERS[args.model]
    meta = {"model": args.model, "seed": str(args.seed), "img_size": "1024", "patch_size": "16",
            "encoder_embed_dim": str(enc["encoder_embed_dim"]), "encoder_depth": str(enc["encoder_depth"]),
            "encoder_num_heads": str(enc["encoder_num_heads"]), "window_size": "14",
            "global_attn_indexes": ",".join(map(str, enc["global_attn_indexes"])), "out_chans": "256",
            "torch_version": torch.__version__, "format": "pt"}
    write_safetensors(st, {k: v.numpy() for k, v in sd.items()}, meta)
    del sam

    # ---- load (the timed part: read the .pth and build the official model from it) ----
    t0 = time.perf_counter()
    loaded = torch.load(pth, map_location="cpu")
    t1 = time.perf_counter()
    sam = off.sam_model_registry[args.model]()
    sam.load_state_dict(loaded, strict=True)
    sam.eval()
    t2 = time.perf_counter()
    timings["torch_load_s"] = t1 - t0
    timings["build_and_load_state_dict_s"] = t2 - t1
    st_back, _, _ = read_safetensors(st)
    assert list(st_back) == list(sd) and all(np.array_equal(st_back[k], sd[k].numpy()) for k in sd)

    # ---- image ----
    if args.image:
        image = np.asarray(Image.open(args.image).convert("RGB"))
        img_path = args.image
    else:
        image = make_image(1200, 900, args.seed)
        img_path = os.path.join(args.out, "test_image.png")
        Image.fromarray(image, "RGB").save(img_path)

    # ---- preprocessing + encoder (no grad) ----
    with torch.no_grad():
        t0 = time.perf_counter()
        resized = off.ResizeLongestSide(sam.image_encoder.img_size).apply_image(image)
        inp = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None]
        pre = sam.preprocess(inp)
        t1 = time.perf_counter()
        emb = sam.image_encoder(pre)
        t2 = time.perf_counter()
        emb2 = sam.image_encoder(pre)  # second run: warm caches/allocator
        t3 = time.perf_counter()
    timings["preprocess_s"] = t1 - t0
    timings["encoder_forward_s"] = t2 - t1
    timings["encoder_forward_second_run_s"] = t3 - t2
    timings["forward_repeatable"] = bool(torch.equal(emb, emb2))

    input_size = [int(s) for s in inp.shape[-2:]]
    original_size = [int(s) for s in image.shape[:2]]
    out_st = os.path.join(args.out, "embedding.safetensors")
    write_safetensors(out_st, {
        "image_embeddings": emb.numpy(),
        "preprocessed": pre.numpy(),
        "input_size": np.array(input_size, np.float32),
        "original_size": np.array(original_size, np.float32),
    }, {"model": args.model, "seed": str(args.seed), "image": os.path.abspath(img_path),
        "threads": str(args.threads), "resize_backend": resize_backend, "torch_version": torch.__version__})

    if args.backward:
        sam.train()
        for p in sam.image_encoder.parameters():
            p.requires_grad_(True)
        t0 = time.perf_counter()
        out = sam.image_encoder(pre)
        loss = (out * out).mean()
        loss.backward()
        t1 = time.perf_counter()
        timings["encoder_forward_backward_s"] = t1 - t0

    report = {
        "model": args.model,
        "threads": torch.get_num_threads(),
        "blas": json.loads(blas_info()),
        "torch": torch.__version__,
        "resize_backend": resize_backend,
        "num_tensors": len(sd),
        "num_values": int(sum(v.numel() for v in sd.values())),
        "image": os.path.abspath(img_path),
        "original_size": original_size,
        "input_size": input_size,
        "embedding_shape": list(emb.shape),
        "embedding_mean": float(emb.mean()),
        "embedding_std": float(emb.std()),
        "files": {"pth": pth, "safetensors": st, "embedding": out_st},
        "timings_s": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timings.items()},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
