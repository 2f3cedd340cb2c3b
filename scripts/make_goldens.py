#!/usr/bin/env python3
"""Golden reference files for mopeft's SAM parity tests, made with the official PyTorch code.

The official Segment Anything code is NOT part of this repository: it is imported from the
directory given with --sam-repo (a checkout of facebookresearch/segment-anything, the folder
that holds `segment_anything/`).

    /usr/bin/python3 scripts/make_goldens.py --sam-repo /tmp/segment-anything --out fixtures

For every small SAM-shaped configuration in CONFIGS it builds the official `Sam` (the way
build_sam.py does, but small), fills every parameter with seeded random values, and writes

    <out>/sam/<config>.safetensors            the state dict (float32, official key names)
    <out>/goldens/<config>_<case>.png         the test image (uint8 RGB)
    <out>/goldens/<config>_<case>.safetensors reference tensors of the official pipeline

Then it reads every file back with a small numpy safetensors reader, loads the weights into a
freshly built model, recomputes everything, and checks that the results are bit-identical.

Only Debian's python3-torch, python3-numpy and python3-pil are needed.  python3-torchvision is
used when present (the official ResizeLongestSide.apply_image calls
torchvision.transforms.functional.resize on a PIL image); without it a stand-in that does what
torchvision 0.14 does for PIL images (identity when the size is unchanged, else
PIL.Image.resize(..., BILINEAR)) is installed under the name `torchvision`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import types
from functools import partial
from typing import Dict, List, Tuple

import numpy as np
import torch
from PIL import Image

PIXEL_MEAN = [123.675, 116.28, 103.53]
PIXEL_STD = [58.395, 57.12, 57.375]

# ---------------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------------

CONFIGS: Dict[str, dict] = {
    "tiny_a": dict(
        seed=1001,
        img_size=256,
        patch_size=16,
        encoder_embed_dim=64,
        encoder_depth=4,
        encoder_num_heads=4,
        window_size=14,
        global_attn_indexes=(1, 3),
        mlp_ratio=4.0,
        out_chans=32,  # = prompt_embed_dim = transformer_dim
        mask_in_chans=16,
        decoder_depth=2,
        decoder_num_heads=8,
        decoder_mlp_dim=64,
        attention_downsample_rate=2,
        iou_head_depth=3,
        iou_head_hidden_dim=32,
        num_multimask_outputs=3,
        # case name -> (width, height, image seed)
        cases={"wide": (256, 160, 11), "resized": (300, 200, 12)},
    ),
    "tiny_b": dict(
        seed=2002,
        img_size=128,
        patch_size=16,
        encoder_embed_dim=48,
        encoder_depth=3,
        encoder_num_heads=3,
        window_size=3,
        global_attn_indexes=(2,),
        mlp_ratio=4.0,
        out_chans=64,
        mask_in_chans=16,
        decoder_depth=2,
        decoder_num_heads=8,
        decoder_mlp_dim=128,
        attention_downsample_rate=2,
        iou_head_depth=3,
        iou_head_hidden_dim=64,
        num_multimask_outputs=3,
        cases={"tall": (97, 128, 21)},
    ),
}

# ---------------------------------------------------------------------------------------------
# Importing the official code
# ---------------------------------------------------------------------------------------------


def _install_torchvision_standin() -> None:
    """A minimal `torchvision` doing exactly what torchvision 0.14 does on the paths SAM uses."""
    tv = types.ModuleType("torchvision")
    tv.__version__ = "standin(PIL)"
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")

    def to_pil_image(pic, mode=None):
        arr = np.asarray(pic)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise NotImplementedError("stand-in to_pil_image handles HxWx3 uint8 only")
        return Image.fromarray(arr, mode or "RGB")

    def resize(img, size, interpolation=None, max_size=None, antialias=None):
        if not isinstance(img, Image.Image) or not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise NotImplementedError("stand-in resize handles PIL images and (h, w) sizes only")
        h, w = int(size[0]), int(size[1])
        if (img.height, img.width) == (h, w):
            return img  # torchvision returns the input untouched when the size is unchanged
        return img.resize((w, h), Image.BILINEAR)

    functional.to_pil_image = to_pil_image
    functional.resize = resize
    transforms.functional = functional
    tv.transforms = transforms
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")

    def _unavailable(*_a, **_k):
        raise NotImplementedError("torchvision stand-in: ops are not available")

    boxes.batched_nms = _unavailable
    boxes.box_area = _unavailable
    ops.boxes = boxes
    tv.ops = ops
    for name, mod in {
        "torchvision": tv,
        "torchvision.transforms": transforms,
        "torchvision.transforms.functional": functional,
        "torchvision.ops": ops,
        "torchvision.ops.boxes": boxes,
    }.items():
        sys.modules[name] = mod


def import_official(sam_repo: str):
    """Imports segment_anything from sam_repo. Returns (module namespace, resize backend name)."""
    if not os.path.isdir(os.path.join(sam_repo, "segment_anything")):
        raise SystemExit(f"--sam-repo {sam_repo}: no segment_anything/ folder there")
    try:
        import torchvision  # noqa: F401

        backend = f"torchvision {torchvision.__version__} (PIL path)"
    except ImportError:
        _install_torchvision_standin()
        backend = "torchvision stand-in: PIL.Image.resize BILINEAR"
    sys.path.insert(0, os.path.abspath(sam_repo))
    import segment_anything as sa
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )
    from segment_anything.modeling.common import LayerNorm2d
    from segment_anything.utils.transforms import ResizeLongestSide

    ns = types.SimpleNamespace(
        sa=sa,
        ImageEncoderViT=ImageEncoderViT,
        MaskDecoder=MaskDecoder,
        PromptEncoder=PromptEncoder,
        Sam=Sam,
        TwoWayTransformer=TwoWayTransformer,
        LayerNorm2d=LayerNorm2d,
        ResizeLongestSide=ResizeLongestSide,
        SamPredictor=sa.SamPredictor,
        sam_model_registry=sa.sam_model_registry,
    )
    return ns, backend


def build_sam(off, cfg: dict):
    """The official Sam, built like build_sam._build_sam but with cfg's sizes."""
    S, P, C = cfg["img_size"], cfg["patch_size"], cfg["out_chans"]
    grid = S // P
    sam = off.Sam(
        image_encoder=off.ImageEncoderViT(
            depth=cfg["encoder_depth"],
            embed_dim=cfg["encoder_embed_dim"],
            img_size=S,
            mlp_ratio=cfg["mlp_ratio"],
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=cfg["encoder_num_heads"],
            patch_size=P,
            qkv_bias=True,
            use_rel_pos=True,
            rel_pos_zero_init=False,
            global_attn_indexes=tuple(cfg["global_attn_indexes"]),
            window_size=cfg["window_size"],
            out_chans=C,
        ),
        prompt_encoder=off.PromptEncoder(
            embed_dim=C,
            image_embedding_size=(grid, grid),
            input_image_size=(S, S),
            mask_in_chans=cfg["mask_in_chans"],
        ),
        mask_decoder=off.MaskDecoder(
            num_multimask_outputs=cfg["num_multimask_outputs"],
            transformer=off.TwoWayTransformer(
                depth=cfg["decoder_depth"],
                embedding_dim=C,
                mlp_dim=cfg["decoder_mlp_dim"],
                num_heads=cfg["decoder_num_heads"],
                attention_downsample_rate=cfg["attention_downsample_rate"],
            ),
            transformer_dim=C,
            iou_head_depth=cfg["iou_head_depth"],
            iou_head_hidden_dim=cfg["iou_head_hidden_dim"],
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )
    sam.eval()
    return sam


# ---------------------------------------------------------------------------------------------
# Random weights
# ---------------------------------------------------------------------------------------------


def randomize_(sam: torch.nn.Module, off, gen: torch.Generator) -> None:
    """Fills every parameter with seeded random values of a sensible scale.

    Linear / conv / transposed-conv weights: N(0, 1/fan_in) (keeps activations O(1), so softmaxes
    and GELUs are neither saturated nor linear); biases N(0, 0.1^2); LayerNorm weights 1 + N(0, 0.1^2),
    LayerNorm biases N(0, 0.1^2); embeddings N(0, 0.5^2); pos_embed N(0, 0.5^2); rel_pos N(0, 0.25^2).
    The prompt encoder's positional_encoding_gaussian_matrix is a buffer that the official code
    fills with torch.randn at construction (seeded here); it is left as it is.
    """
    done = set()

    def normal_(t: torch.Tensor, std: float, mean: float = 0.0):
        t.copy_(torch.randn(t.shape, generator=gen, dtype=torch.float32) * std + mean)

    with torch.no_grad():
        for mname, mod in sam.named_modules():
            for pname, p in mod.named_parameters(recurse=False):
                full = f"{mname}.{pname}" if mname else pname
                if isinstance(mod, (torch.nn.LayerNorm, off.LayerNorm2d)):
                    if pname == "weight":
                        normal_(p, 0.1, 1.0)
                    else:
                        normal_(p, 0.1)
                elif isinstance(mod, torch.nn.Linear):
                    normal_(p, 1.0 / math.sqrt(mod.in_features) if pname == "weight" else 0.1)
                elif isinstance(mod, torch.nn.ConvTranspose2d):
                    # weight [in, out, kh, kw]; stride == kernel, so each output sees in_channels taps
                    normal_(p, 1.0 / math.sqrt(mod.in_channels) if pname == "weight" else 0.1)
                elif isinstance(mod, torch.nn.Conv2d):
                    fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
                    normal_(p, 1.0 / math.sqrt(fan_in) if pname == "weight" else 0.1)
                elif isinstance(mod, torch.nn.Embedding):
                    normal_(p, 0.5)
                elif pname == "pos_embed":
                    normal_(p, 0.5)
                elif pname in ("rel_pos_h", "rel_pos_w"):
                    normal_(p, 0.25)
                else:
                    raise RuntimeError(f"no init rule for parameter {full}")
                done.add(full)
    missing = [n for n, _ in sam.named_parameters() if n not in done]
    if missing:
        raise RuntimeError(f"parameters left unset: {missing}")
    for n, b in sam.named_buffers():
        if n.startswith("pixel_"):
            continue
        if not n.endswith("positional_encoding_gaussian_matrix"):
            raise RuntimeError(f"unexpected buffer {n}")
        if float(b.abs().sum()) == 0.0:
            raise RuntimeError(f"buffer {n} is zero")


def export_state_dict(sam: torch.nn.Module) -> Dict[str, torch.Tensor]:
    sd = sam.state_dict()
    out = {}
    for k, v in sd.items():
        if k in ("pixel_mean", "pixel_std"):
            continue  # the released checkpoints do not store them (they are non-persistent buffers)
        out[k] = v.detach().to(torch.float32).contiguous()
    return out


# ---------------------------------------------------------------------------------------------
# safetensors, written and read by hand
# ---------------------------------------------------------------------------------------------

_NP_TO_ST = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("int64"): "I64",
             np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def write_safetensors(path: str, tensors: Dict[str, np.ndarray], metadata: Dict[str, str] | None = None):
    """Writes tensors (in the given order) to a safetensors file."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs: List[bytes] = []
    offset = 0
    for name, arr in tensors.items():
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        arr = np.ascontiguousarray(arr)
        dt = _NP_TO_ST[arr.dtype]
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": dt, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str], List[str]]:
    """Reads a safetensors file with numpy. Returns (tensors, metadata, names in file order)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if n % 8 != 0:
        raise ValueError(f"{path}: header length {n} is not a multiple of 8")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out: Dict[str, np.ndarray] = {}
    spans = []
    for name, info in header.items():
        s, e = info["data_offsets"]
        dt = _ST_TO_NP[info["dtype"]].newbyteorder("<")
        arr = np.frombuffer(data[s:e], dtype=dt).reshape(info["shape"])
        out[name] = arr.astype(dt.newbyteorder("="))
        spans.append((s, e, name))
    spans.sort()
    pos = 0
    for s, e, name in spans:
        if s != pos:
            raise ValueError(f"{path}: gap or overlap before {name}")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes")
    return out, meta, [name for _, _, name in sorted(spans)]


# ---------------------------------------------------------------------------------------------
# Test images
# ---------------------------------------------------------------------------------------------


def make_image(width: int, height: int, seed: int) -> np.ndarray:
    """Deterministic HxWx3 uint8 RGB image: gradients, a disc, a box, stripes, and noise."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    img = np.empty((height, width, 3), np.float64)
    img[..., 0] = 40 + 180 * u
    img[..., 1] = 30 + 170 * v
    img[..., 2] = 128 + 90 * np.sin(2 * np.pi * (1.5 * u + 0.7 * v))
    cx, cy, r = 0.62 * width, 0.45 * height, 0.22 * min(width, height)
    disc = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    img[disc] = [235, 210, 60]
    x0, x1, y0, y1 = int(0.12 * width), int(0.38 * width), int(0.55 * height), int(0.88 * height)
    img[y0:y1, x0:x1] = [25, 60, 140]
    stripes = ((x + 2 * y) // 6 % 2 == 0) & (u > 0.75) & (v > 0.7)
    img[stripes] = [250, 250, 250]
    img += rng.normal(0.0, 10.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Pillow's 8-bit BILINEAR resample, re-derived in numpy (used to check that the description of
# the official preprocessing in the README is exact).
# ---------------------------------------------------------------------------------------------

_PRECISION_BITS = 32 - 8 - 2


def _pil_coeffs(in_size: int, out_size: int):
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale  # bilinear (triangle) filter support 1, widened when shrinking
    rows = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        ws = []
        for x in range(xmin, xmax):
            t = abs((x - center + 0.5) / filterscale)
            ws.append(1.0 - t if t < 1.0 else 0.0)
        tot = sum(ws)
        ws = [w / tot for w in ws] if tot != 0.0 else ws
        iw = [int(w * (1 << _PRECISION_BITS) + (-0.5 if w < 0 else 0.5)) for w in ws]
        rows.append((xmin, iw))
    return rows


def _pil_pass(img: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    a = np.moveaxis(img.astype(np.int64), axis, 0)
    out = np.empty((out_size,) + a.shape[1:], np.int64)
    for i, (xmin, iw) in enumerate(_pil_coeffs(a.shape[0], out_size)):
        acc = np.full(a.shape[1:], 1 << (_PRECISION_BITS - 1), np.int64)
        for j, w in enumerate(iw):
            acc += a[xmin + j] * w
        out[i] = np.clip(acc >> _PRECISION_BITS, 0, 255)
    return np.moveaxis(out, 0, axis).astype(np.uint8)


def pil_bilinear_numpy(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Pillow 9.x Image.resize(BILINEAR) for uint8 images: horizontal pass first (to uint8),
    then vertical; triangle filter widened by the scale when shrinking (antialias); 22-bit
    fixed-point weights, round half up, clip to 0..255."""
    out = img
    if out_w != img.shape[1]:
        out = _pil_pass(out, out_w, 1)
    if out_h != img.shape[0]:
        out = _pil_pass(out, out_h, 0)
    return out


# ---------------------------------------------------------------------------------------------
# The golden pipeline
# ---------------------------------------------------------------------------------------------


def config_metadata(name: str, cfg: dict) -> Dict[str, str]:
    S, P = cfg["img_size"], cfg["patch_size"]
    return {
        "config": name,
        "seed": str(cfg["seed"]),
        "img_size": str(S),
        "patch_size": str(P),
        "grid_size": str(S // P),
        "encoder_embed_dim": str(cfg["encoder_embed_dim"]),
        "encoder_depth": str(cfg["encoder_depth"]),
        "encoder_num_heads": str(cfg["encoder_num_heads"]),
        "encoder_head_dim": str(cfg["encoder_embed_dim"] // cfg["encoder_num_heads"]),
        "window_size": str(cfg["window_size"]),
        "global_attn_indexes": ",".join(str(i) for i in cfg["global_attn_indexes"]),
        "mlp_ratio": str(cfg["mlp_ratio"]),
        "out_chans": str(cfg["out_chans"]),
        "prompt_embed_dim": str(cfg["out_chans"]),
        "transformer_dim": str(cfg["out_chans"]),
        "mask_in_chans": str(cfg["mask_in_chans"]),
        "decoder_depth": str(cfg["decoder_depth"]),
        "decoder_num_heads": str(cfg["decoder_num_heads"]),
        "decoder_mlp_dim": str(cfg["decoder_mlp_dim"]),
        "attention_downsample_rate": str(cfg["attention_downsample_rate"]),
        "iou_head_depth": str(cfg["iou_head_depth"]),
        "iou_head_hidden_dim": str(cfg["iou_head_hidden_dim"]),
        "num_multimask_outputs": str(cfg["num_multimask_outputs"]),
        "num_mask_tokens": str(cfg["num_multimask_outputs"] + 1),
        "use_rel_pos": "true",
        "rel_pos_zero_init": "false",
        "qkv_bias": "true",
        "encoder_layernorm_eps": "1e-6",
        "pixel_mean": ",".join(str(v) for v in PIXEL_MEAN),
        "pixel_std": ",".join(str(v) for v in PIXEL_STD),
    }


@torch.no_grad()
def run_case(off, sam, image: np.ndarray) -> Dict[str, torch.Tensor]:
    """The official pipeline on one HxWx3 uint8 image, with no prompt."""
    S = sam.image_encoder.img_size
    transform = off.ResizeLongestSide(S)
    resized = transform.apply_image(image)  # HxWx3 uint8 (PIL bilinear via torchvision)
    inp = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None, :, :, :]
    input_size = tuple(int(s) for s in inp.shape[-2:])
    original_size = tuple(int(s) for s in image.shape[:2])
    preprocessed = sam.preprocess(inp)
    image_embeddings = sam.image_encoder(preprocessed)
    sparse, dense = sam.prompt_encoder(points=None, boxes=None, masks=None)
    dense_pe = sam.prompt_encoder.get_dense_pe()
    low_res, iou = sam.mask_decoder.predict_masks(
        image_embeddings=image_embeddings,
        image_pe=dense_pe,
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
    )
    masks = sam.postprocess_masks(low_res, input_size, original_size)
    return {
        "preprocessed": preprocessed,
        "resized_image": inp.to(torch.float32),
        "image_embeddings": image_embeddings,
        "dense_pe": dense_pe,
        "sparse_embeddings_shape": torch.tensor(list(sparse.shape), dtype=torch.float32),
        "dense_embeddings": dense.contiguous(),
        "low_res_masks": low_res,
        "iou_predictions": iou,
        "masks": masks,
        "input_size": torch.tensor(input_size, dtype=torch.float32),
        "original_size": torch.tensor(original_size, dtype=torch.float32),
    }


GOLDEN_ORDER = [
    "preprocessed", "image_embeddings", "dense_pe", "dense_embeddings",
    "low_res_masks", "iou_predictions", "masks", "input_size", "original_size",
]


@torch.no_grad()
def cross_check_with_predictor(off, sam, image: np.ndarray, res: Dict[str, torch.Tensor]) -> None:
    """The same numbers through the official SamPredictor and MaskDecoder.forward."""
    pred = off.SamPredictor(sam)
    pred.set_image(image, image_format="RGB")
    assert torch.equal(pred.features, res["image_embeddings"]), "predictor features differ"
    assert tuple(pred.input_size) == tuple(int(v) for v in res["input_size"])
    assert tuple(pred.original_size) == tuple(int(v) for v in res["original_size"])
    masks, iou, low = pred.predict_torch(None, None, multimask_output=True, return_logits=True)
    assert torch.equal(low, res["low_res_masks"][:, 1:]), "multimask low-res differ"
    assert torch.equal(iou, res["iou_predictions"][:, 1:]), "multimask iou differ"
    assert torch.equal(masks, res["masks"][:, 1:]), "multimask masks differ"
    masks1, iou1, low1 = pred.predict_torch(None, None, multimask_output=False, return_logits=True)
    assert torch.equal(low1, res["low_res_masks"][:, :1]) and torch.equal(iou1, res["iou_predictions"][:, :1])


def describe(t: torch.Tensor) -> str:
    t = t.double()
    return f"{list(t.shape)} mean {t.mean():+.4f} std {t.std():.4f} min {t.min():+.4f} max {t.max():+.4f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sam-repo", required=True, help="folder holding the official segment_anything/")
    ap.add_argument("--out", required=True, help="fixtures folder (sam/ and goldens/ are written in it)")
    ap.add_argument("--sam-commit", default="", help="commit of the official code, recorded in metadata")
    ap.add_argument("--only", default="", help="comma-separated config names (default: all)")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)  # one thread: the most reproducible float32 reductions
    off, resize_backend = import_official(args.sam_repo)
    sam_dir = os.path.join(args.out, "sam")
    gold_dir = os.path.join(args.out, "goldens")
    os.makedirs(sam_dir, exist_ok=True)
    os.makedirs(gold_dir, exist_ok=True)
    versions = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "pil_version": Image.__version__,
        "resize_backend": resize_backend,
        "sam_commit": args.sam_commit,
        "generator": "scripts/make_goldens.py",
    }
    print(f"torch {torch.__version__}, PIL {Image.__version__}, resize: {resize_backend}")

    names = [n for n in CONFIGS if not args.only or n in args.only.split(",")]
    for name in names:
        cfg = CONFIGS[name]
        torch.manual_seed(cfg["seed"])  # the gaussian matrix buffer is drawn at construction
        sam = build_sam(off, cfg)
        gen = torch.Generator().manual_seed(cfg["seed"] + 1)
        randomize_(sam, off, gen)
        sd = export_state_dict(sam)
        meta = {**config_metadata(name, cfg), **versions}
        wpath = os.path.join(sam_dir, f"{name}.safetensors")
        write_safetensors(wpath, {k: v.numpy() for k, v in sd.items()}, {**meta, "format": "pt"})
        nvals = sum(v.numel() for v in sd.values())
        groups = {p: sum(1 for k in sd if k.startswith(p + ".")) for p in
                  ("image_encoder", "prompt_encoder", "mask_decoder")}
        print(f"[{name}] {wpath}: {len(sd)} tensors {groups}, {nvals} values")

        for case, (w, h, iseed) in cfg["cases"].items():
            image = make_image(w, h, iseed)
            png = os.path.join(gold_dir, f"{name}_{case}.png")
            Image.fromarray(image, "RGB").save(png, optimize=False)
            image_back = np.asarray(Image.open(png).convert("RGB"))
            assert np.array_equal(image_back, image), "PNG round trip"
            res = run_case(off, sam, image)
            cross_check_with_predictor(off, sam, image, res)
            # The README's description of the resize must be exact.
            ih, iw = (int(v) for v in res["input_size"])
            ours = pil_bilinear_numpy(image, ih, iw)
            assert np.array_equal(ours, res["resized_image"][0].permute(1, 2, 0).numpy().astype(np.uint8)), \
                "numpy re-derivation of Pillow BILINEAR differs from apply_image"
            assert res["sparse_embeddings_shape"].tolist() == [1, 0, cfg["out_chans"]]
            cmeta = {**meta, "case": case, "image": os.path.basename(png),
                     "original_size_hw": f"{h},{w}", "input_size_hw": f"{ih},{iw}",
                     "sparse_embeddings_shape": f"1,0,{cfg['out_chans']}",
                     "weights": f"sam/{name}.safetensors"}
            gpath = os.path.join(gold_dir, f"{name}_{case}.safetensors")
            write_safetensors(gpath, {k: res[k].contiguous().numpy() for k in GOLDEN_ORDER}, cmeta)
            print(f"[{name}/{case}] {w}x{h} -> input {iw}x{ih}; {gpath}")
            for k in GOLDEN_ORDER:
                print(f"    {k:17s} {describe(res[k])}")

    # ---- verification: re-read everything, rebuild from the files, recompute, compare bits ----
    for name in names:
        cfg = CONFIGS[name]
        wt, wmeta, worder = read_safetensors(os.path.join(sam_dir, f"{name}.safetensors"))
        torch.manual_seed(12345)  # deliberately different: every value must come from the file
        sam2 = build_sam(off, cfg)
        expected_keys = [k for k in sam2.state_dict().keys() if not k.startswith("pixel_")]
        assert worder == expected_keys, "weight file key order differs from state_dict()"
        sam2.load_state_dict({k: torch.from_numpy(v) for k, v in wt.items()}, strict=True)
        assert wmeta["img_size"] == str(cfg["img_size"])
        for case, (w, h, iseed) in cfg["cases"].items():
            g, gmeta, _ = read_safetensors(os.path.join(gold_dir, f"{name}_{case}.safetensors"))
            image = np.asarray(Image.open(os.path.join(gold_dir, f"{name}_{case}.png")).convert("RGB"))
            res = run_case(off, sam2, image)
            for k in GOLDEN_ORDER:
                a = res[k].numpy()
                if g[k].shape != a.shape or g[k].dtype != np.float32 or not np.array_equal(g[k], a):
                    raise SystemExit(f"VERIFY FAILED {name}/{case}/{k}")
            print(f"[verify] {name}/{case}: {len(GOLDEN_ORDER)} tensors bit-identical after reload")
    return 0


if __name__ == "__main__":
    sys.exit(main())
