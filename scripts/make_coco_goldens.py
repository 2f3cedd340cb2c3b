"""Golden COCO box-AP values from the official pycocotools COCOeval, for tests/metrics.

Usage (with the system Python, numpy only):

    /usr/bin/python3 scripts/make_coco_goldens.py <cocoapi checkout or bare git dir> fixtures/detection_goldens

The official `coco.py` and `cocoeval.py` are read from the given cocoapi repository at run time
(never copied into this project) and imported unchanged. Two things are stubbed because they are
not installed here and play no part in box scoring: matplotlib (only `COCO.showAnns` draws), and
pycocotools' C extension, whose `iou` is replaced by a numpy version of its box IoU
(intersection over union of xywh boxes; over the detection's area for a crowd ground truth).
The `np.float` alias that cocoapi's master still uses (removed in numpy 1.24) is restored as
`float`, which is what it meant.

Each case writes `<name>.gt.json` (COCO instances), `<name>.dets.json` (COCO results) and
`<name>.expected.json` (COCOeval's twelve stats and per-class AP / AP50, -1 as null).

Two cases exercise pycocotools' rules on annotation ids: `ids_zero` numbers annotations from 0,
as some converters do (COCOeval counts a match on the ground truth of id 0 as no match: its true
positive becomes a false positive), and `ids_repeat` repeats ids within and across images and
classes (`COCO.createIndex` keeps the last annotation of each id, and every occurrence of the id
stands for that one). Their `expected.json` also holds the scores with the ids made unique and
non-zero (`uniqueIds`), what the rules cost.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np


def numpy_box_iou(dets, gts, iscrowd):
    d = np.asarray(dets, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gts, dtype=np.float64).reshape(-1, 4)
    if len(d) == 0 or len(g) == 0:
        return []
    crowd = np.asarray(iscrowd, dtype=bool)
    out = np.zeros((len(d), len(g)))
    for j in range(len(g)):
        for i in range(len(d)):
            w = min(d[i, 0] + d[i, 2], g[j, 0] + g[j, 2]) - max(d[i, 0], g[j, 0])
            if w <= 0:
                continue
            h = min(d[i, 1] + d[i, 3], g[j, 1] + g[j, 3]) - max(d[i, 1], g[j, 1])
            if h <= 0:
                continue
            inter = w * h
            da = d[i, 2] * d[i, 3]
            union = da if crowd[j] else da + g[j, 2] * g[j, 3] - inter
            out[i, j] = inter / union
    return out


def load_pycocotools(repo):
    """Imports the official coco.py / cocoeval.py from `repo` under stubs for the C parts."""
    tmp = tempfile.mkdtemp()
    package = os.path.join(tmp, "pycocotools")
    os.makedirs(package)
    for name in ("coco.py", "cocoeval.py"):
        source = subprocess.run(
            ["git", "--git-dir", git_dir(repo), "show", f"HEAD:PythonAPI/pycocotools/{name}"],
            check=True, capture_output=True, text=True).stdout
        with open(os.path.join(package, name), "w") as f:
            f.write(source)
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write("")
    mask = types.ModuleType("pycocotools.mask")
    mask.iou = numpy_box_iou
    sys.modules["pycocotools.mask"] = mask
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"):
        stub = types.ModuleType(name)
        stub.PatchCollection = stub.Polygon = None
        sys.modules[name] = stub
    sys.path.insert(0, tmp)
    # The cocoapi master still says `np.float`, an alias numpy 1.24 removed; it meant float.
    np.float = float
    import pycocotools
    pycocotools.mask = mask
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    return COCO, COCOeval


def git_dir(repo):
    return os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo


def random_case(rng, n_images, category_ids, empty_category, crowd_rate, flood_image,
                jitter_rate=0.15):
    images, annotations, results = [], [], []
    for image_id in range(1, n_images + 1):
        width, height = int(rng.randint(60, 400)), int(rng.randint(60, 400))
        images.append({"id": image_id * 3, "file_name": f"{image_id}.png", "width": width,
                       "height": height})
        for _ in range(int(rng.randint(0, 7))):
            category = int(rng.choice([c for c in category_ids if c != empty_category]))
            # Sides from 3 to 150 px: small, medium and large objects.
            w = float(np.round(np.exp(rng.uniform(np.log(3), np.log(150))), 1))
            h = float(np.round(w * rng.uniform(0.5, 2.0), 1))
            x = float(np.round(rng.uniform(0, max(1, width - w)), 1))
            y = float(np.round(rng.uniform(0, max(1, height - h)), 1))
            crowd = int(rng.uniform() < crowd_rate)
            # Segmentation area differs from the box area, as COCO's does.
            area = float(np.round(w * h * rng.uniform(0.6, 1.0), 2))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id * 3,
                                "category_id": category, "bbox": [x, y, w, h], "area": area,
                                "iscrowd": crowd})
            for _ in range(int(rng.randint(0, 3))):
                jitter = rng.normal(0, jitter_rate * max(w, h), 4)
                box = [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]),
                       max(1.0, h + jitter[3])]
                label = category if rng.uniform() < 0.85 else int(rng.choice(category_ids))
                results.append({"image_id": image_id * 3, "category_id": label,
                                "bbox": [float(np.round(v, 2)) for v in box],
                                # Two decimals: many exact ties.
                                "score": float(np.round(rng.uniform(), 2))})
        for _ in range(int(rng.randint(0, 4))):
            w, h = float(rng.uniform(4, 120)), float(rng.uniform(4, 120))
            results.append({"image_id": image_id * 3, "category_id": int(rng.choice(category_ids)),
                            "bbox": [float(rng.uniform(0, width)), float(rng.uniform(0, height)),
                                     w, h],
                            "score": float(np.round(rng.uniform(), 2))})
    if flood_image:
        # More than 100 detections on one image: maxDets cuts them.
        image = images[0]
        for i in range(130):
            results.append({"image_id": image["id"], "category_id": int(category_ids[0]),
                            "bbox": [float(rng.uniform(0, image["width"] - 10)),
                                     float(rng.uniform(0, image["height"] - 10)), 10.0, 10.0],
                            "score": float(np.round(rng.uniform(), 1))})
    categories = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in category_ids]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def evaluate(COCO, COCOeval, gt, results):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results) if results else COCO()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]
    per_class_ap, per_class_ap50 = [], []
    for k in range(precision.shape[2]):
        all_t = precision[:, :, k, 0, -1]
        at_50 = precision[0, :, k, 0, -1]
        per_class_ap.append(float(np.mean(all_t[all_t > -1])) if (all_t > -1).any() else None)
        per_class_ap50.append(float(np.mean(at_50[at_50 > -1])) if (at_50 > -1).any() else None)
    stats = [None if s == -1 else float(s) for s in evaluator.stats]
    return {"stats": stats, "perClassAp": per_class_ap, "perClassAp50": per_class_ap50}


def renumber(gt, ids):
    """A copy of `gt` whose annotations carry `ids` (in file order)."""
    annotations = [dict(a, id=i) for a, i in zip(gt["annotations"], ids)]
    return dict(gt, annotations=annotations)


def id_cases():
    """Cases with id 0 and with repeated ids, each with its unique-id twin's scores."""
    gt, results = random_case(np.random.RandomState(4), 10, [1, 2, 4], None, 0.05, False, 0.05)
    n = len(gt["annotations"])
    zero = renumber(gt, list(range(n)))
    gt, results_b = random_case(np.random.RandomState(5), 10, [1, 2, 4], None, 0.05, False, 0.05)
    n = len(gt["annotations"])
    rng = np.random.RandomState(6)
    ids = list(range(1, n + 1))
    # About a fifth of the annotations take an earlier one's id: same image or another.
    for i in range(1, n):
        if rng.uniform() < 0.2:
            ids[i] = ids[int(rng.randint(0, i))]
    # One id 0 besides, that also repeats.
    ids[2] = 0
    ids[n - 1] = 0
    repeat = renumber(gt, ids)
    return {
        "ids_zero": (zero, results, renumber(zero, range(1, len(zero["annotations"]) + 1))),
        "ids_repeat": (repeat, results_b, renumber(repeat, range(1, n + 1))),
    }


def main():
    repo, out = sys.argv[1], sys.argv[2]
    COCO, COCOeval = load_pycocotools(repo)
    os.makedirs(out, exist_ok=True)
    cases = {
        "random_a": random_case(np.random.RandomState(1), 12, [1, 3, 7, 9], 9, 0.08, True),
        "random_b": random_case(np.random.RandomState(2), 20, [2, 5, 6], None, 0.15, False, 0.03),
        "random_c": random_case(np.random.RandomState(3), 6, [1, 2], None, 0.3, True),
    }
    for name, (gt, results, unique) in id_cases().items():
        expected = evaluate(COCO, COCOeval, gt, results)
        expected["uniqueIds"] = evaluate(COCO, COCOeval, unique, results)
        cases[name] = (gt, results, expected)
    for name, case in cases.items():
        gt, results = case[0], case[1]
        expected = case[2] if len(case) > 2 else evaluate(COCO, COCOeval, gt, results)
        for suffix, value in (("gt", gt), ("dets", results), ("expected", expected)):
            with open(os.path.join(out, f"{name}.{suffix}.json"), "w") as f:
                json.dump(value, f)
        print(name, len(gt["annotations"]), "objects", len(results), "detections",
              "AP", expected["stats"][0])


if __name__ == "__main__":
    main()
