#!/usr/bin/env python3
"""Writes the small PyTorch checkpoints under fixtures/pth/ that tests/io/ reads.

Run with Debian's torch:  /usr/bin/python3 scripts/make_pth_fixtures.py
Every tensor is deterministic (fixed seed), so re-running gives the same values.

fixtures/pth/
  sam_like.pth     OrderedDict state dict in SAM's key layout: F32, F16, BF16, F64, int64 tensors,
                   a transposed (non-contiguous) tensor, two views sharing one storage at offsets,
                   a 0-d tensor, and a `_metadata` attribute as nn.Module.state_dict() leaves.
  wrapped.pth      {"model": state dict with an nn.Parameter, "epoch": 7, "lr": 1e-4}.
  legacy.pth       the same small dict saved with _use_new_zipfile_serialization=False.
  numpy.pth        a dict holding a numpy array (a global the reader must refuse).
  no_tensors.pth   a dict without tensors ({"epoch": 7, "lr": 0.1}).
  expected.json    for each .pth that reads: name -> {shape, dtype, values as float32}.
"""
import collections
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pth")


def sam_like_state_dict():
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["image_encoder.pos_embed"] = torch.randn(1, 2, 2, 8, generator=g)
    sd["image_encoder.patch_embed.proj.weight"] = torch.randn(8, 3, 2, 2, generator=g)
    sd["image_encoder.blocks.0.attn.qkv.weight"] = torch.randn(24, 8, generator=g)
    sd["image_encoder.blocks.0.attn.qkv.bias"] = torch.randn(24, generator=g)
    # Half-precision copies of random values, plus values that test the edges of each format.
    rel_h = torch.randn(3, 4, generator=g).half()
    rel_h[0, 0] = 65504.0
    rel_h[0, 1] = 2.0 ** -24
    rel_h[0, 2] = -0.0
    sd["image_encoder.blocks.0.attn.rel_pos_h"] = rel_h
    rel_w = torch.randn(3, 4, generator=g).bfloat16()
    rel_w[0, 0] = 3.0e38
    rel_w[0, 1] = -1.0e-38
    sd["image_encoder.blocks.0.attn.rel_pos_w"] = rel_w
    # Transposed: shape [32, 8] with strides (1, 32), a non-contiguous view of a [8, 32] storage.
    sd["image_encoder.blocks.0.mlp.lin1.weight"] = torch.randn(8, 32, generator=g).t()
    assert not sd["image_encoder.blocks.0.mlp.lin1.weight"].is_contiguous()
    # Two views of one storage, at offsets 10 and 5 (+ strides (6, 1) starting at column 1).
    shared = torch.arange(40, dtype=torch.float32) * 0.5 - 3.0
    sd["mask_decoder.iou_token.weight"] = shared[10:20].view(1, 10)
    sd["mask_decoder.mask_tokens.weight"] = shared[5:35].view(5, 6)[:, 1:4]
    sd["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = torch.randn(2, 4, generator=g).double()
    sd["mask_decoder.scale"] = torch.tensor(0.75)  # 0-d
    sd["mask_decoder.num_batches_tracked"] = torch.tensor(12345, dtype=torch.int64)
    sd["mask_decoder.empty"] = torch.zeros(0, 3)
    # nn.Module.state_dict() sets this attribute; pickle stores it through BUILD.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("image_encoder", {"version": 1})])
    return sd


def wrapped_checkpoint():
    g = torch.Generator().manual_seed(99)
    model = collections.OrderedDict()
    model["mask_decoder.output_upscaling.0.weight"] = torch.nn.Parameter(torch.randn(4, 2, 2, 2, generator=g))
    model["mask_decoder.output_upscaling.0.bias"] = torch.randn(2, generator=g)
    return {"model": model, "epoch": 7, "lr": 1e-4}


def describe(state_dict):
    out = {}
    for name, tensor in state_dict.items():
        out[name] = {
            "shape": list(tensor.shape),
            "dtype": str(tensor.dtype).replace("torch.", ""),
            "values": tensor.detach().float().flatten().tolist(),
        }
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    sam_like = sam_like_state_dict()
    wrapped = wrapped_checkpoint()
    torch.save(sam_like, os.path.join(OUT, "sam_like.pth"))  # zip format, the default
    torch.save(wrapped, os.path.join(OUT, "wrapped.pth"))
    small = collections.OrderedDict([("a", torch.ones(2))])
    torch.save(small, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"a": np.arange(3, dtype=np.float32)}, os.path.join(OUT, "numpy.pth"))
    torch.save({"epoch": 7, "lr": 0.1}, os.path.join(OUT, "no_tensors.pth"))
    expected = {"sam_like.pth": describe(sam_like), "wrapped.pth": describe(wrapped["model"])}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
